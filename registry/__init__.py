"""stratforge registry component."""
