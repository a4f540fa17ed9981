"""The ``stratforge`` command line."""

from __future__ import annotations

import click

from stratforge import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stratforge")
def main() -> None:
    """stratforge: YAML strategy specs to tested, backtested, scored trading code."""
