"""stratforge runtime component."""
