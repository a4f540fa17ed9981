"""The registry's commands: login, versions, promote, approve, rollback, reconcile, audit, users,
tokens.

The shell registers them on the ``stratforge`` group (:func:`register`). The database is
``STRATFORGE_DB_URL`` (default: a SQLite file, see ``stratforge.registry.db.default_url``); the
acting user is the owner of ``STRATFORGE_TOKEN`` when set, else ``STRATFORGE_USER``, else the
owner of the token kept by ``stratforge login``. Every action, refused or not, is in the audit
log.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratforge.core.errors import UserInputError
from stratforge.registry import Registry
from stratforge.registry.db import default_url
from stratforge.registry.models import ROLES
from stratforge.registry.service import OperationView
from stratforge.runtime.control.process import default_state_dir, pid_alive, read_pid
from stratforge.settings import load_settings

_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                       show_default=True, help="Output format.")


def open_registry() -> Registry:
    """The registry of this installation, without a deployer: commands record the desired
    state; the runtime's control plane (`stratforge runtime serve`, with a LocalDeployer)
    reconciles it (see docs/runtime.md, "Control plane")."""
    return Registry.open(load_settings().db_url or default_url(), deployer=None)


def login_file() -> Path:
    """Where `stratforge login` keeps the token: ``$XDG_CONFIG_HOME/stratforge/token``."""
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "stratforge" / "token"


def acting_user(reg: Registry) -> str:
    """``STRATFORGE_TOKEN``'s owner, else ``STRATFORGE_USER``, else the logged-in token's owner."""
    settings = load_settings()
    if settings.token is not None:
        return reg.user_for_token(settings.token.get_secret_value())
    if settings.user:
        return settings.user
    if login_file().is_file():
        return reg.user_for_token(login_file().read_text(encoding="utf-8").strip())
    raise UserInputError("who is acting? set STRATFORGE_USER=NAME, or STRATFORGE_TOKEN to an "
                         "API token, or `stratforge login` with one")


def runtime_serving() -> bool:
    """A control plane (``stratforge runtime serve``) runs for this machine's state folder: it
    reconciles what the registry commands request."""
    return pid_alive(read_pid(default_state_dir() / "control.pid"), "stratforge")


def _wait(reg: Registry, op: OperationView, seconds: float) -> OperationView:
    """With the runtime up, wait (at most ``seconds``) for its reconcile to finish ``op``."""
    if op.status != "in_progress" or seconds <= 0 or not runtime_serving():
        return op
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now = next((o for o in reg.operations(op.strategy) if o.id == op.id), op)
        if now.status != "in_progress":
            return now
        time.sleep(0.2)
    return op


_WAIT = click.option("--wait", "wait_s", type=float, default=30.0, show_default=True,
                     help="With the runtime up, seconds to wait for it to carry the operation "
                     "out (0: return at once).")


def _operation_line(op: OperationView) -> str:
    if op.status == "completed":
        return f"{op.strategy}: {op.kind} of version {op.version} completed (operation {op.id})"
    if op.status == "aborted":
        return (f"{op.strategy}: {op.kind} of version {op.version} ABORTED (operation {op.id}): "
                "the runtime rolled the strategy back by itself meanwhile "
                f"(`stratforge audit --strategy {op.strategy}`)")
    if runtime_serving():
        return (f"{op.strategy}: {op.kind} of version {op.version} requested (operation {op.id}, "
                f"step {op.step}); the runtime has not finished it yet — `stratforge versions "
                f"{op.strategy}` shows its phase")
    return (f"{op.strategy}: {op.kind} of version {op.version} requested (operation {op.id}, "
            f"step {op.step}); desired state recorded — no deployer is wired into this "
            f"installation, so it stays in progress until `stratforge reconcile {op.strategy}` "
            "runs where one is")


@click.command("versions")
@click.argument("name", required=False)
@_FORMAT
def versions_cmd(name: str | None, fmt: str) -> None:
    """List the registered versions (of NAME, or of every strategy) with stage and phase."""
    reg = open_registry()
    rows = reg.versions(name)
    if fmt == "json":
        click.echo(json.dumps([{
            "strategy": v.strategy, "version": v.number, "build_id": v.build_id,
            "spec_hash": v.spec_hash, "bundle": v.bundle, "author": v.author,
            "verdict": v.verdict, "stage": v.stage, "desired": v.desired,
            "observed": v.observed, "phase": v.phase.phase.value, "reason": v.phase.reason,
            "shadow_gate": v.shadow_gate.to_dict(), "approvals": list(v.approvals),
            "created_at": v.created_at.isoformat()} for v in rows], indent=2))
        return
    if not rows:
        click.echo("no versions registered")
        return
    table = Table("strategy", "version", "build", "verdict", "stage", "desired", "observed",
                  "phase", "shadow gate", "approved by")
    for v in rows:
        table.add_row(escape(v.strategy), str(v.number), escape(v.build_id[:16]), v.verdict,
                      v.stage, v.desired or "-", v.observed or "-",
                      f"{v.phase.phase.value} ({v.phase.reason})", v.shadow_gate.outcome.value,
                      escape(", ".join(v.approvals)) or "-")
    Console(width=160).print(table)


@click.command("promote")
@click.argument("name")
@click.option("--version", "number", type=int, default=None,
              help="Version number (default: the newest).")
@click.option("--to", "to", type=click.Choice(["shadow", "live"]), required=True,
              help="Target stage.")
@_WAIT
def promote_cmd(name: str, number: int | None, to: str, wait_s: float) -> None:
    """Promote a version of NAME to shadow or live (the rules are in docs/registry.md)."""
    reg = open_registry()
    click.echo(_operation_line(_wait(reg, reg.promote(name, number, to, acting_user(reg)),
                                     wait_s)))


@click.command("approve")
@click.argument("name")
@click.option("--version", "number", type=int, required=True, help="Version number.")
@click.option("--build-id", default=None,
              help="The build id you reviewed; refused when it is not the version's.")
def approve_cmd(name: str, number: int, build_id: str | None) -> None:
    """Approve a version of NAME for live (bound to its build id; not by its author)."""
    reg = open_registry()
    bound = reg.approve(name, number, acting_user(reg), build_id)
    click.echo(f"{name} version {number} approved (build {bound})")


@click.command("rollback")
@click.argument("name")
@click.option("--reason", default=None, help="Why (recorded in the audit log).")
@_WAIT
def rollback_cmd(name: str, reason: str | None, wait_s: float) -> None:
    """Put NAME's recorded last-good live version back live (no rebuild)."""
    reg = open_registry()
    click.echo(_operation_line(_wait(reg, reg.rollback(name, acting_user(reg), reason),
                                     wait_s)))


@click.command("reconcile")
@click.argument("name", required=False)
def reconcile_cmd(name: str | None) -> None:
    """Resume promotions and rollbacks in progress (e.g. after a crash)."""
    ops = open_registry().reconcile(name)
    for op in ops:
        click.echo(_operation_line(op))
    if not ops:
        click.echo("nothing in progress")


@click.command("audit")
@click.option("--verify", is_flag=True, help="Check the hash chain; exit 1 when it is broken.")
@click.option("--strategy", default=None, help="Only this strategy's records.")
@_FORMAT
def audit_cmd(verify: bool, strategy: str | None, fmt: str) -> None:
    """Show the audit log, or verify that it is intact."""
    reg = open_registry()
    if verify:
        problems, seq, head = reg.verify_audit()
        if fmt == "json":
            click.echo(json.dumps({"intact": not problems, "records": seq, "head": head,
                                   "problems": [{"seq": p.seq, "message": p.message}
                                                for p in problems]}, indent=2))
        else:
            for p in problems:
                click.echo(str(p))
            click.echo(f"audit log intact: {seq} records, head {head}" if not problems
                       else f"audit log BROKEN: {len(problems)} problem(s)")
        if problems:
            raise click.exceptions.Exit(1)
        return
    records = reg.audit_records(strategy)
    if fmt == "json":
        click.echo(json.dumps(records, indent=2))
        return
    for r in records:
        subject = f" {r['strategy']}" + (f" v{r['version']}" if r["version"] else "") \
            if r["strategy"] else ""
        why = f" {r['reason']}" if r["reason"] else ""
        detail = json.dumps(r["detail"], sort_keys=True) if r["detail"] else ""
        click.echo(f"{r['seq']:>6} {r['at']} {r['actor']} {r['action']}{subject} "
                   f"{r['outcome']}{why} {detail}".rstrip())


@click.group("users")
def users_grp() -> None:
    """Registry users and their roles (viewer, author, approver, admin)."""


@users_grp.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-prompt", is_flag=True,
              help="Ask for the user's dashboard password (typed twice, not echoed).")
@click.option("--one-time-password", is_flag=True,
              help="Print a one-time dashboard password the user must change at the first login.")
def users_add(name: str, role: str, password_prompt: bool, one_time_password: bool) -> None:
    """Add a user (the first user must be an admin and may add themself; `users
    bootstrap-admin NAME` does that with a one-time password)."""
    if password_prompt and one_time_password:
        raise click.UsageError("--password-prompt and --one-time-password exclude each other")
    reg = open_registry()
    settings = load_settings()
    anonymous = settings.token is None and not settings.user and not login_file().is_file()
    actor = name if anonymous else acting_user(reg)  # anonymous: only the bootstrap admin
    password = click.prompt("password", hide_input=True, confirmation_prompt=True) \
        if password_prompt else None
    reg.add_user(name, role, actor)
    click.echo(f"user {name} added as {role}")
    _set_password(reg, name, actor, password, one_time_password)


def _set_password(reg: Registry, name: str, actor: str, password: str | None,
                  one_time: bool) -> None:
    if one_time:
        password = secrets.token_urlsafe(18)
        reg.set_password(name, password, actor, one_time=True)
        click.echo(f"one-time password for {name} (shown once; it must be changed at the next "
                   f"login):\n{password}")
    elif password is not None:
        reg.set_password(name, password, actor, one_time=actor != name)
        click.echo(f"password of {name} set" + (" (to be changed at the next login)"
                                                 if actor != name else ""))


@users_grp.command("bootstrap-admin")
@click.argument("name")
def users_bootstrap_admin(name: str) -> None:
    """Create the first user, an admin, and print a one-time password (to be changed at the
    first login). Refused once the registry has users; there is never a default password."""
    password = open_registry().bootstrap_admin(name)
    click.echo(f"admin {name} created; one-time password (shown once; it must be changed at "
               f"the first login):\n{password}")


@users_grp.command("password")
@click.argument("name")
@click.option("--one-time", is_flag=True, help="Print a one-time password the user must change "
              "at the next login (instead of prompting).")
def users_password(name: str, one_time: bool) -> None:
    """Set NAME's dashboard password (yours, or anyone's as an admin)."""
    reg = open_registry()
    actor = acting_user(reg)
    password = None if one_time else click.prompt("new password", hide_input=True,
                                                  confirmation_prompt=True)
    _set_password(reg, name, actor, password, one_time)


@users_grp.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Deactivate a user (their API tokens stop working)."""
    reg = open_registry()
    reg.remove_user(name, acting_user(reg))
    click.echo(f"user {name} removed")


@users_grp.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def users_role(name: str, role: str) -> None:
    """Change a user's role."""
    reg = open_registry()
    reg.set_role(name, role, acting_user(reg))
    click.echo(f"user {name} is now {role}")


@users_grp.command("list")
@_FORMAT
def users_list(fmt: str) -> None:
    """List users."""
    rows = open_registry().users()
    if fmt == "json":
        click.echo(json.dumps([{"name": n, "role": r, "active": a} for n, r, a in rows]))
        return
    for n, r, a in rows:
        click.echo(f"{n}\t{r}" + ("" if a else "\t(removed)"))


@click.group("tokens")
def tokens_grp() -> None:
    """API tokens (for CI and scripts); only their SHA-256 is stored."""


@tokens_grp.command("create")
@click.option("--user", "owner", default=None, help="Owner (default: the acting user).")
@click.option("--name", required=True, help="What the token is for, e.g. ci.")
def tokens_create(owner: str | None, name: str) -> None:
    """Create a token; its secret is printed once."""
    reg = open_registry()
    actor = acting_user(reg)
    token_id, secret = reg.create_token(owner or actor, name, actor)
    click.echo(f"token {token_id} for {owner or actor} ({name}) — store it now, it is not "
               f"shown again:\n{secret}")


@tokens_grp.command("list")
@_FORMAT
def tokens_list(fmt: str) -> None:
    """List tokens (never their secrets)."""
    rows = open_registry().tokens()
    out: list[dict[str, Any]] = [{"id": i, "user": u, "name": n, "created_at": c.isoformat(),
                                  "revoked_at": r.isoformat() if r else None}
                                 for i, u, n, c, r in rows]
    if fmt == "json":
        click.echo(json.dumps(out))
        return
    for t in out:
        click.echo(f"{t['id']}\t{t['user']}\t{t['name']}\t"
                   + (f"revoked {t['revoked_at']}" if t["revoked_at"] else "active"))


@tokens_grp.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token."""
    reg = open_registry()
    reg.revoke_token(token_id, acting_user(reg))
    click.echo(f"token {token_id} revoked")


@click.command("login")
@click.option("--token", prompt=True, hide_input=True, help="An API token (prompted for).")
def login_cmd(token: str) -> None:
    """Act as the owner of an API token from now on (kept in ~/.config/stratforge/token)."""
    name = open_registry().user_for_token(token.strip())
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token.strip() + "\n")
    click.echo(f"logged in as {name}")


@click.command("logout")
def logout_cmd() -> None:
    """Forget the token `stratforge login` kept."""
    login_file().unlink(missing_ok=True)
    click.echo("logged out")


COMMANDS = (login_cmd, logout_cmd, versions_cmd, promote_cmd, approve_cmd, rollback_cmd, reconcile_cmd, audit_cmd,
            users_grp, tokens_grp)


def register(group: click.Group) -> None:
    """Add the registry's commands to the ``stratforge`` group."""
    for command in COMMANDS:
        group.add_command(command)
