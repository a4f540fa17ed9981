"""The ``data`` click group: happy paths and one-line errors with exit status 1."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from stratforge.runtime.data.cli import data
from stratforge.runtime.data.format import open_events


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(data, [str(a) for a in args], catch_exceptions=False)

    return invoke


def test_synth_and_info(run, tmp_path):
    out = tmp_path / "s.sfe"
    r = run("synth", "--events", 5000, "--seed", 3, "--out", out, "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["events"] == 5000
    r = run("info", out, "--format", "json")
    assert r.exit_code == 0
    s = json.loads(r.output)
    assert s["events"] == 5000 and s["instruments"][0]["crossed_batches"] == 0
    r = run("info", out)
    assert r.exit_code == 0 and "SYN" in r.output and "DEPTH" in r.output


def test_synth_bars(run, tmp_path):
    r = run("synth", "--kind", "bars", "-n", 1000, "-o", tmp_path / "b.sfe", "--symbol", "ZZ")
    assert r.exit_code == 0, r.output
    f = open_events(tmp_path / "b.sfe")
    assert len(f) == 1000 and f.instruments[0].symbol == "ZZ"


def test_convert_trades_and_bars(run, tmp_path):
    t = tmp_path / "t.csv"
    t.write_text("ts,price,qty,side\n1,5.5,1,buy\n2,5.25,2,sell\n")
    r = run("convert", "trades-csv", t, "--symbol", "X", "--ts-unit", "s", "--out", tmp_path / "t.sfe", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["events"] == 2
    b = tmp_path / "y.csv"
    b.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n2015-03-05,209.42,210.40,209.85,210.00,199.50,2000\n")
    r = run("convert", "bars-csv", b, "--symbol", "SPY", "-o", tmp_path / "y.sfe", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["inconsistent_ohlc"] == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (["info", "{tmp}/missing.sfe"], "error: no such event file"),
        (["info", "{tmp}/junk.sfe"], "magic is"),
        (["convert", "trades-csv", "{tmp}/missing.csv", "--symbol", "X", "-o", "{tmp}/o.sfe"], "error: no such file"),
        (["convert", "trades-csv", "{tmp}/bad.csv", "--symbol", "X", "-o", "{tmp}/o.sfe"], "bad.csv:3: price 'oops' is not a number"),
        (["convert", "bars-csv", "{tmp}/bad.csv", "-o", "{tmp}/o.sfe"], "unknown bars layout"),
        (["convert", "lobster", "{tmp}/bad.csv", "-o", "{tmp}/o.sfe"], "pass --symbol and --date"),
        (["convert", "binance", "{tmp}/bad.csv", "-o", "{tmp}/o.sfe"], "not '<local_ts_ns> <json>'"),
        (["convert", "trades-csv", "{tmp}/good.csv", "--symbol", "X", "-o", "{tmp}/nodir/o.sfe"], "output directory does not exist"),
    ],
)
def test_errors_are_one_message(tmp_path, args, message):
    (tmp_path / "junk.sfe").write_bytes(b"x" * 200)
    (tmp_path / "bad.csv").write_text("ts,price,qty\n1,5,1\n2,oops,1\n")
    (tmp_path / "good.csv").write_text("ts,price,qty\n1,5,1\n")
    args = [a.format(tmp=tmp_path) for a in args]
    r = CliRunner().invoke(data, args)
    assert r.exit_code == 1, r.output
    assert message in r.output
    assert "Traceback" not in r.output
    first, *rest = r.output.strip().splitlines()
    assert first.startswith("error: ")
    assert all(line.startswith("  ") for line in rest)  # only a malformed file's row list
    assert not (tmp_path / "o.sfe").exists()


@pytest.mark.shared_data
def test_convert_lobster_cli(run, shared, tmp_path):
    msg = shared("lobster-nasdaq-sample-2012-06-21", "GOOG_2012-06-21_34200000_57600000_message_1.csv")
    r = run("convert", "lobster", msg, "-o", tmp_path / "g.sfe", "--format", "json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)
    assert rep["messages"] == 49_482 and rep["symbol"] == "GOOG"
    s = json.loads(run("info", tmp_path / "g.sfe", "--format", "json").output)
    assert s["first_time"].startswith("2012-06-21T13:30:00")
    assert s["instruments"][0]["crossed_batches"] == 0


def test_convert_with_date_format_columns_and_zone(run, tmp_path):
    src = tmp_path / "idx.csv"
    src.write_text("Date,Open,High,Low,Close,Adj Close,Volume\n"
                   "1/4/1999,10,11,9,10.5,10.5,0\n1/5/1999,10.5,12,10,11,11,0\n")
    out = tmp_path / "idx.sfe"
    r = run("convert", "bars-csv", src, "--symbol", "IDXA", "--date-format", "%m/%d/%Y",
            "--out", out, "--format", "json")
    assert r.exit_code == 0, r.output
    assert open_events(out).events["exch_ts"][0] == 915_483_600 * 10**9  # 1999-01-04 21:00 UTC
    t = tmp_path / "t.csv"
    t.write_text("When,Px,Size\n2024-01-02 09:30:00,5,1\n2024-01-02 09:30:01,5,2\n")
    r = run("convert", "trades-csv", t, "--symbol", "X", "--ts-unit", "iso", "--tz",
            "America/New_York", "--column", "ts=When", "--column", "price=Px",
            "--column", "qty=Size", "--out", tmp_path / "t.sfe", "--format", "json")
    assert r.exit_code == 0, r.output
    assert open_events(tmp_path / "t.sfe").events["recv_ts"][0] == 1_704_205_800 * 10**9
    r = run("convert", "trades-csv", t, "--symbol", "X", "--column", "ts", "--out",
            tmp_path / "u.sfe")
    assert r.exit_code == 1 and "--column must be NAME=HEADER" in r.output


def test_every_bad_row_in_one_error(run, tmp_path):
    t = tmp_path / "t.csv"
    t.write_text("ts,price,qty\n1,x,1\n2,5\n3,5,y\n")
    r = run("convert", "trades-csv", t, "--symbol", "X", "--out", tmp_path / "t.sfe")
    assert r.exit_code == 1
    assert "3 malformed rows" in r.output and ":2: price 'x'" in r.output and ":4: qty 'y'" in r.output
    assert not (tmp_path / "t.sfe").exists()
