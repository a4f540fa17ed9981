"""Fixtures of the runtime/data tests (``shared`` comes from the root conftest)."""
