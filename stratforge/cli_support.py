"""Shared by every stratforge command group (the shell's and the components')."""

from __future__ import annotations

import os
from typing import Any

import click

from stratforge.core.errors import StratforgeError

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

#: LLM providers a user may choose (the registry also has test doubles, never offered here).
USER_PROVIDERS = ["replay", "openai", "local", "transformers"]


class SafeGroup(click.Group):
    """A click group that turns stray exceptions into one clear line instead of a traceback:
    a :class:`StratforgeError` exits 1 with its message, a bug exits 3 and says it is a bug
    (``STRATFORGE_DEBUG=1`` shows the traceback), Ctrl-C exits 130."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except StratforgeError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(EXIT_INVALID)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as err:  # noqa: BLE001 - last line of defence, reported as a bug
            if os.environ.get("STRATFORGE_DEBUG"):
                raise
            click.echo(f"internal error (a bug in stratforge, please report it): "
                       f"{type(err).__name__}: {err}", err=True)
            ctx.exit(EXIT_INTERNAL)
