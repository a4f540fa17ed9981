"""``LocalDeployer``: the registry's ``Deployer`` protocol over the local sf-engine.

It implements ``observe`` and ``apply`` with the same names and signatures as
``stratforge.registry.deployer.Deployer`` (structurally: the runtime never imports the
registry) and takes any object with ``strategy``, ``build_id`` and ``bundle`` as a target.

* ``observe(strategy)`` asks the engine (``status`` — the truth, never what was last asked):
  the live instance is ``live``; a shadow instance is ``shadow``, except the strategy's
  last-good build, kept loaded as a warm standby so a rollback is one swap, which is
  ``retired`` to the registry (it is not deployed; it is the rollback target).
* ``apply(target, slot)`` is idempotent: ``shadow`` loads the version as a shadow instance;
  ``live`` loads it if needed, then ``promote`` (or ``rollback`` when it is the recorded
  last-good build; or a ``load`` as live when the strategy has no live instance yet);
  ``retired`` unloads it (except the standby).

The plugin loaded is exactly the one ``stratforge build`` tested: the scorecard's provenance
names it (``plugin``, relative to the workspace build root, and ``plugin_sha256``); its SHA-256
is checked here, it is copied read-only to ``<state>/plugins/<sha256>.so`` and the engine checks
the SHA-256 and the build id again at ``load``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from stratforge.core.engine_config import risk_limits
from stratforge.core.errors import UserInputError
from stratforge.core.spec import load_spec
from stratforge.runtime.control.client import EngineClient, EngineRefused
from stratforge.runtime.control.plugin import resolve_plugin, sha256_of
from stratforge.runtime.control.state import Instance, StateStore

__all__ = ["LocalDeployer", "TargetLike", "resolve_plugin", "sha256_of"]


class TargetLike(Protocol):
    strategy: str
    build_id: str
    bundle: str


class LocalDeployer:
    """The registry's deployer over one engine (``client``) and the control state ``store``."""

    def __init__(self, client: EngineClient, store: StateStore, plugins_dir: Path, *,
                 build_root: Path | None = None,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.store = store
        self.plugins_dir = Path(plugins_dir)
        self.build_root = build_root
        self.on_change = on_change

    # --- the protocol -------------------------------------------------------------------------
    def observe(self, strategy: str) -> Mapping[str, str]:
        status = self.client.status()
        state = self.store.load()
        mine = state.strategies.get(strategy)
        out: dict[str, str] = {}
        for st in status.get("strategies", []):
            if st.get("name") != strategy:
                continue
            for inst in st.get("instances", []):
                bid = inst["build_id"]
                if inst.get("role") == "live":
                    out[bid] = "live"
                elif mine is not None and bid in mine.instances \
                        and mine.instances[bid].role == "standby":
                    out[bid] = "retired"
                else:
                    out[bid] = "shadow"
        return out

    def apply(self, target: TargetLike, slot: str) -> None:
        if slot not in ("shadow", "live", "retired"):
            raise UserInputError(f"slot must be shadow, live or retired, not {slot!r}")
        strategy, build_id = target.strategy, target.build_id
        engine = self._engine_view(strategy)
        loaded = engine["instances"]
        if slot == "retired":
            self._retire(strategy, build_id, loaded)
            return
        inst = self._instance(target)
        if slot == "shadow":
            if build_id not in loaded:
                self.load_instance(strategy, inst, "shadow")
            self._record(strategy, inst, "shadow")
            return
        # live
        if loaded.get(build_id) == "live":
            self._record_live(strategy, inst, previous=None, rollback=False)
            return
        live_now = engine["live"]
        if live_now is None and build_id not in loaded:
            self.load_instance(strategy, inst, "live")
            self._record_live(strategy, inst, previous=None, rollback=False)
            return
        if build_id not in loaded:
            self.load_instance(strategy, inst, "shadow")
        state = self.store.load()
        mine = state.strategies.get(strategy)
        is_rollback = mine is not None and mine.last_good == build_id and live_now is not None
        if is_rollback:
            resp = self.client.rollback(strategy, to=build_id, reason="registry rollback")
        else:
            resp = self.client.promote(strategy, build_id)
        swap = {"cmd": "rollback" if is_rollback else "promote", "to": build_id,
                "previous": resp.get("previous"), "swap_ns": resp.get("swap_ns"),
                "at_seq": resp.get("at_seq")}
        self._record_live(strategy, inst, previous=live_now, rollback=is_rollback, swap=swap)

    # --- helpers ------------------------------------------------------------------------------
    def _engine_view(self, strategy: str) -> dict[str, Any]:
        status = self.client.status()
        for st in status.get("strategies", []):
            if st.get("name") == strategy:
                return {"live": st.get("live"), "last_good": st.get("last_good"),
                        "instances": {i["build_id"]: i.get("role")
                                      for i in st.get("instances", [])}}
        return {"live": None, "last_good": None, "instances": {}}

    def _instance(self, target: TargetLike) -> Instance:
        bundle = Path(target.bundle)
        plugin, digest = resolve_plugin(bundle, self.build_root, target.build_id)
        copy = self._install(plugin, digest)
        spec_path = bundle / "spec.yaml"
        if not spec_path.is_file():
            raise UserInputError(f"{spec_path} does not exist: the bundle of "
                                 f"{target.strategy} {target.build_id} is incomplete")
        spec = load_spec(spec_path, check_filename=False).spec
        params_path = bundle / "params.txt"
        params = params_path.read_text(encoding="utf-8") if params_path.is_file() else ""
        return Instance(build_id=target.build_id, role="shadow", plugin=str(copy),
                        sha256=digest, params=params,
                        instruments=[i.symbol for i in spec.strategy.instruments],
                        risk=risk_limits(spec).model_dump(mode="json", exclude_none=True),
                        latency_budget_ns=int(spec.latency.tick_to_order_p99_ns))

    def _install(self, plugin: Path, digest: str) -> Path:
        """Copy ``plugin`` to ``plugins/<sha256>.so`` (read-only), once."""
        self.plugins_dir.mkdir(parents=True, exist_ok=True)
        dest = self.plugins_dir / f"{digest}.so"
        if dest.is_file() and sha256_of(dest) == digest:
            return dest
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        shutil.copyfile(plugin, tmp)
        os.chmod(tmp, 0o444)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if sha256_of(tmp) != digest:
            tmp.unlink()
            raise UserInputError(f"{plugin} changed while it was copied; try again")
        if dest.exists():
            os.chmod(dest, 0o644)
        os.replace(tmp, dest)
        return dest

    def load_instance(self, strategy: str, inst: Instance, role: str) -> dict[str, Any]:
        """``load`` one recorded instance (used by :meth:`apply` and by the crash restore)."""
        try:
            return self.client.load(strategy=strategy, build_id=inst.build_id,
                                    plugin=inst.plugin, sha256=inst.sha256, role=role,
                                    params=inst.params, instruments=inst.instruments,
                                    risk=inst.risk, latency_budget_ns=inst.latency_budget_ns)
        except EngineRefused as err:
            raise EngineRefused("load", f"{strategy} {inst.build_id} ({inst.plugin}): "
                                f"{err.message}") from None

    def _record(self, strategy: str, inst: Instance, role: str) -> None:
        def change(state: Any) -> None:
            st = state.strategy(strategy)
            st.instances[inst.build_id] = inst.model_copy(update={"role": role})
        self.store.update(change)
        self._changed(strategy)

    def _record_live(self, strategy: str, inst: Instance, previous: str | None,
                     rollback: bool, swap: dict[str, Any] | None = None) -> None:
        stale: list[str] = []

        def change(state: Any) -> None:
            st = state.strategy(strategy)
            st.instances[inst.build_id] = inst.model_copy(update={"role": "live"})
            if previous is not None and previous != inst.build_id:
                if rollback:
                    st.last_good = None  # the rolled-back version is not good
                    if previous in st.instances:
                        st.instances[previous].role = "shadow"  # retired next by the registry
                else:
                    for bid, other in st.instances.items():
                        if other.role == "standby" and bid != previous:
                            stale.append(bid)
                    st.last_good = previous
                    if previous in st.instances:
                        st.instances[previous].role = "standby"
                for bid in stale:
                    del st.instances[bid]
            elif st.live != inst.build_id and st.last_good == inst.build_id:
                st.last_good = None
            st.live = inst.build_id
            if swap is not None:
                st.last_swap = swap
        self.store.update(change)
        for bid in stale:  # the older standby is no rollback target any more
            try:
                self.client.unload(strategy, bid)
            except EngineRefused:
                pass  # already gone
        self._changed(strategy)

    def _retire(self, strategy: str, build_id: str, loaded: Mapping[str, str]) -> None:
        state = self.store.load()
        mine = state.strategies.get(strategy)
        rec = mine.instances.get(build_id) if mine is not None else None
        if rec is not None and rec.role == "standby" and mine is not None \
                and mine.last_good == build_id:
            return  # the warm standby stays loaded: it is the rollback target
        if loaded.get(build_id) == "live":
            raise UserInputError(f"{strategy} {build_id} is the live instance; put another "
                                 "version live (or roll back) before retiring it")
        if build_id in loaded:
            try:
                self.client.unload(strategy, build_id)
            except EngineRefused as err:
                gone = ("not loaded", "no instance", "no loaded build")
                if not any(m in err.message for m in gone):
                    raise

        def change(state: Any) -> None:
            st = state.strategy(strategy)
            st.instances.pop(build_id, None)
            if st.live == build_id:
                st.live = None
            if st.last_good == build_id:
                st.last_good = None
        self.store.update(change)
        self._changed(strategy)

    def _changed(self, strategy: str) -> None:
        if self.on_change is not None:
            self.on_change(strategy)
