"""Fixtures of the cross-check tests: generated bundles of the example specs, synthetic daily
bars, the shared real data converted to .sfe, and a bar-mode sf-replay run in the sandbox."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from resource_kit import missing, shared_path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

REPO = Path(__file__).resolve().parents[3]
DAY_NS = 86_400 * 10**9

EXAMPLES = {"nvda-momentum": REPO / "specs" / "nvda-momentum.yaml",
            "orcl-mean-reversion": REPO / "specs" / "orcl-mean-reversion.yaml"}


@pytest.fixture(scope="session")
def backend():
    from stratforge.sandbox import LocalBackend

    b = LocalBackend()
    ok, why = b.available()
    if not ok:
        missing("sandbox", why)
    return b


@pytest.fixture(scope="session")
def examples(tmp_path_factory, backend):
    """name -> (loaded spec, bundle dir, build dir holding strategy.so), generated once."""
    from stratforge.core.spec import load_spec

    root = tmp_path_factory.mktemp("crosscheck-gen")
    out: dict = {}
    for name, path in EXAMPLES.items():
        proc = subprocess.run([sys.executable, "-m", "stratforge", "generate", str(path), "--out",
                               str(root / "bundles"), "--build-dir", str(root / "build")],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        bundle = root / "bundles" / name
        (so,) = sorted((root / "build" / name).glob("*/strategy.so"))
        out[name] = (load_spec(path), bundle, so.parent)
    return out


def synthetic_daily_bars(spec, path: Path) -> Path:
    """Daily bars from the spec's synthetic data section (seed, start, start price, count)."""
    from stratforge.runtime.data.synth import BarParams, write_synth

    d = spec.backtest.data
    inst = spec.strategy.instruments[0]
    start = d.start if d.start.tzinfo else d.start.replace(tzinfo=dt.timezone.utc)
    params = BarParams(symbol=inst.symbol, tick_size=str(inst.tick_size), lot_size=str(inst.lot_size),
                       start_price=float(d.start_price), interval_ns=DAY_NS,
                       start_ns=int(start.timestamp()) * 10**9 - DAY_NS)
    write_synth(path, kind="bars", n_events=int(d.events), seed=int(d.seed), params=params)
    return path


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory, examples):
    """name -> synthetic .sfe of that example spec."""
    root = tmp_path_factory.mktemp("crosscheck-data")
    return {name: synthetic_daily_bars(spec.spec, root / f"{name}.sfe") for name, (spec, _, _) in examples.items()}


SHARED_FILES = {
    "nvda-daily": ("daily-us-stocks-yahoo-backtrader/nvda-1999-2014.txt", "NVDA"),
    "orcl-daily": ("daily-us-stocks-yahoo-backtrader/orcl-1995-2014.txt", "ORCL"),
    "spy-minute": ("spy-minute-bars-2011-01-pyalgotrade/nt-spy-minute-2011.csv", "SPY"),
}


@pytest.fixture(scope="session")
def shared_bars(tmp_path_factory):
    """name -> (.sfe converted from the shared file, symbol); skips when ../shared is absent."""
    from stratforge.runtime.data.csvfmt import convert_bars_csv

    root = tmp_path_factory.mktemp("crosscheck-shared")
    out = {}
    for name, (rel, sym) in SHARED_FILES.items():
        src = shared_path(rel)
        conv = convert_bars_csv(src, symbol=sym, tick_size="0.01", lot_size="1")
        dst = root / f"{name}.sfe"
        conv.write(dst)
        out[name] = (dst, sym)
    return out
