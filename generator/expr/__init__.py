"""Signal expression language (work in progress)."""
