"""stratforge ci component."""
