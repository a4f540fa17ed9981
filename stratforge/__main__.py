"""``python -m stratforge`` is the ``stratforge`` command."""

from stratforge.cli import main

main()
