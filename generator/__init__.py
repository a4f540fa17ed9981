"""stratforge generator component."""
