"""`stratforge demo [--down]`: the whole product in one command (stratforge/demo.py says what
it does, step by step)."""

from __future__ import annotations

from pathlib import Path

import click

from stratforge.demo import DemoPaths, check, down, find_examples, up

DEFAULT_WORKSPACE = Path("stratforge-demo")


@click.command("demo")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_WORKSPACE, show_default=True,
              help="Folder of everything the demo writes: a git repository with the specs, its "
                   "own registry, runtime and build folders.")
@click.option("--specs", "specs_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="The example specs to start from (default: ./specs).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="The dashboard's port on 127.0.0.1 (0, or taken: a free one).")
@click.option("--speed", type=float, default=None,
              help="Replay pace of the runtime's feed (60: an hour of market a minute; default: "
                   "the pace at which the shadow gate's minimum duration takes about a minute).")
@click.option("--gate-timeout", type=float, default=900.0, show_default=True,
              help="Seconds to wait for the shadow gate to hold on the engine's metrics.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Builds run in parallel.")
@click.option("--llm", type=click.Choice(["none", "local"]), default="none", show_default=True,
              help="local: build the specs with free-text logic through the bundled model "
                   "(`stratforge model install` first); none: their recorded exchanges.")
@click.option("--shared", "shared_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None,
              help="The shared folder with real data sets in data/ (default: ../shared beside "
                   "the checkout; without it the strategies run on synthetic sessions).")
@click.option("--check", "verify", is_flag=True,
              help="Check the running demo: the dashboard answers and shows one live and one "
                   "shadow deployment that sf-engine runs (exit 1 when not).")
@click.option("--down", "stop", is_flag=True,
              help="Stop everything the demo started in this workspace.")
def demo_cmd(workspace: Path, specs_dir: Path | None, port: int, speed: float | None,
             gate_timeout: float, jobs: int, llm: str, shared_dir: Path | None, verify: bool,
             stop: bool) -> None:
    """Build the example specs, deploy one passing strategy live with a second version in
    shadow on replayed data, and serve the dashboard (docs/getting-started.md)."""
    paths = DemoPaths(workspace.resolve())
    if verify:
        for line in check(paths):
            click.echo(line)
        return
    if stop:
        down(paths, click.echo)
        click.echo(f"the demo in {paths.root} is stopped; nothing of it is running")
        return
    result = up(paths, examples=find_examples(specs_dir), port=port, speed=speed,
                gate_timeout=gate_timeout, jobs=jobs, say=click.echo,
                llm=None if llm == "none" else llm, shared=shared_dir)
    click.echo("")
    click.echo(f"dashboard   {result.url}")
    click.echo(f"login       {result.user} / {result.password}   (one-time: you choose a new "
               "password at the first login)")
    click.echo(f"live        {result.live or 'none: ' + '; '.join(result.notes)}")
    click.echo(f"shadow      {result.shadow or 'none'}")
    click.echo(f"feed        {result.feed_kind}")
    click.echo(f"            {result.feed}")
    click.echo(f"stop it     stratforge demo --down"
               + ("" if workspace == DEFAULT_WORKSPACE else f" --workspace {workspace}"))


def register(group: click.Group) -> None:
    group.add_command(demo_cmd)


__all__ = ["demo_cmd", "register"]
