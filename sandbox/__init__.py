"""stratforge sandbox component."""
