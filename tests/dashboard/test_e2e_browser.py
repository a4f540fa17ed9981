"""End to end in headless Chromium (Debian's, driven by Playwright; nothing is downloaded): a
real `stratforge dashboard` process over a registry holding two versions built by the real
pipeline from this suite's own spec. Log in, open a version, see its scorecard chart drawn,
promote to shadow, approve as a second user, promote to live, roll back, read the audit log —
at 1280×800 and at 390 px wide, with no console errors. Screenshots go to the test artifacts
folder (``STRATFORGE_TEST_ARTIFACTS``, default ``build/test-artifacts``).

The runtime (issue 14) is not part of this test: the test plays the control plane's part the
way the architecture splits it — the dashboard records the desired state in the registry, and a
process with a deployer (here :class:`dash_kit.FileDeployer`) reconciles it, and records the
shadow metrics the runtime would observe. A stand-in of the control plane's ``/status``
endpoint feeds the deployments page's live metrics.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dash_kit import GOOD_SHADOW, PASSWORDS, FileDeployer, staff
from PIL import Image
from resource_kit import REPO, missing

from stratforge.cli import main
from stratforge.core.tools import first_executable
from stratforge.registry import Registry

SPEC = Path(__file__).resolve().parent / "specs" / "dash-trend.yaml"
NAME = "dash-trend"
ARTIFACTS = Path(os.environ.get("STRATFORGE_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts") \
    / "dashboard"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _chromium() -> str:
    path = first_executable("chromium", "chromium-browser")
    if path is None:
        missing("chromium", "the dashboard's browser tests")
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Status(BaseHTTPRequestHandler):
    """The control plane's /status, as the deployments page reads it (the document of the
    control plane's MetricsServer: engine status and per-instance metrics)."""

    body = {"engine_up": True, "engine_restarts": 0,
            "status": {"killed_all": False, "feed": {"seq": 900, "events": 900},
                       "strategies": [{"name": NAME, "killed": False,
                                       "instances": [{"build_id": "b", "role": "live"}]}]},
            "metrics": {"instances": [{"strategy": NAME, "build_id": "b", "role": "live",
                                       "pnl": 123.5, "fees": 1.25, "drawdown": 4.0,
                                       "position": {"DSHB": 7}, "risk_breaches": 0,
                                       "orders": {"submitted": 41, "accepted": 39, "denied": 2,
                                                  "canceled": 5, "fills": 17, "fill_qty": 170},
                                       "denials": {"PRICE_BAND": 2},
                                       "callback_ns": {"p50": 310, "p99": 2900},
                                       "t2o_ns": {"p50": 5100, "p99": 17000}}]}}

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        data = json.dumps(self.body).encode()
        self.send_response(200 if self.path == "/status" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # noqa: ANN002 - silence
        pass


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """Two versions of the test spec built by the real pipeline (v1 live, v2 a candidate by
    ann), the staff, a stand-in /status endpoint, and a running `stratforge dashboard`."""
    chromium = _chromium()
    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'registry.db'}"
    env = {"STRATFORGE_DB_URL": url, "STRATFORGE_USER": "ann"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for n, text in enumerate((SPEC.read_text(),
                                  SPEC.read_text().replace("fast_window: 5", "fast_window: 6"))):
            spec = tmp / f"spec{n}" / "dash-trend.yaml"
            spec.parent.mkdir()
            spec.write_text(text)
            res = CliRunner().invoke(main, ["build", str(spec), "--out", str(tmp / f"out{n}"),
                                            "--build-dir", str(tmp / "b")])
            assert res.exit_code == 0, res.output
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    reg = Registry.open(url, FileDeployer(tmp / "deployed.json"))
    staff(reg)
    assert [v.verdict for v in reg.versions(NAME)] == ["PASS", "PASS"]
    reg.promote(NAME, 1, "shadow", "bob")
    reg.record_shadow_metrics(NAME, 1, GOOD_SHADOW, actor="runtime")
    reg.approve(NAME, 1, "cat")
    assert reg.promote(NAME, 1, "live", "bob").status == "completed"

    status = ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    threading.Thread(target=status.serve_forever, daemon=True).start()
    port = _free_port()
    server_env = {**os.environ, "STRATFORGE_DB_URL": url,
                  "STRATFORGE_DASHBOARD_SECRET_KEY_FILE": str(tmp / "dashboard.key"),
                  "STRATFORGE_DASHBOARD_RUNTIME_URL": f"http://127.0.0.1:{status.server_port}"}
    server_env.pop("STRATFORGE_USER", None)
    log = open(tmp / "dashboard.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "stratforge", "dashboard", "--host",
                             "127.0.0.1", "--port", str(port)], env=server_env, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, (tmp / "dashboard.log").read_text()
            time.sleep(0.1)
    else:
        pytest.fail("the dashboard did not start listening")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield {"base": f"http://127.0.0.1:{port}", "reg": reg, "chromium": chromium}
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
    status.shutdown()
    reg.engine.dispose()


class Browser:
    """One Chromium page that records console errors and uncaught exceptions."""

    def __init__(self, pw, chromium: str, base: str, width: int, height: int) -> None:
        self.browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                          args=["--no-sandbox"])
        self.page = self.browser.new_page(viewport={"width": width, "height": height})
        self.base = base
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"{m.text} ({m.location.get('url')})")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def login(self, name: str) -> None:
        self.go("/login")
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", PASSWORDS[name])
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base + "/")

    def logout(self) -> None:
        self.page.click("header form button")
        self.page.wait_for_url("**/login")

    def act(self, button: str, reason: str) -> str:
        """Click an action, confirm it with a reason; the flash message after it."""
        self.page.click(button)
        self.page.wait_for_url("**/actions/**")
        self.page.fill("textarea[name=reason]", reason)
        self.page.click("#confirm-form button[type=submit]")
        self.page.wait_for_load_state()
        return self.page.inner_text("main")

    def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.browser.close()


def _drawn(png: bytes, rgb: tuple[int, int, int], tol: int = 40) -> int:
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(np.all(np.abs(img - np.array(rgb)) < tol, axis=2).sum())


@pytest.fixture(scope="module")
def pw():
    """Playwright for Python, driving the system's chromium (``executable_path``)."""
    _chromium()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    try:
        from playwright.sync_api import sync_playwright  # optional: the dev extra
    except ImportError:
        missing("chromium", "Playwright for Python is not installed: pip install '.[dev]'")
    with sync_playwright() as p:
        yield p


def test_promote_approve_live_rollback_in_chromium(pw, world) -> None:
    reg: Registry = world["reg"]
    deployer_reg = reg  # the "control plane": reconciles what the dashboard requested
    bob = Browser(pw, world["chromium"], world["base"], 1280, 800)
    try:
        bob.login("bob")
        assert NAME in bob.page.inner_text("#strategies")
        bob.shot("01-strategies-1280")
        bob.page.click(f"#strategies a[href='/strategies/{NAME}/versions/2']")
        bob.page.wait_for_selector("#chart-equity")
        assert bob.page.inner_text("#verdict") == "PASS"
        assert "cpp/strategy.cpp" in bob.page.inner_text("main")
        assert "Diff against the live version v1" in bob.page.inner_text("main")
        # the equity chart is drawn: its PnL line's blue is in the canvas' pixels
        chart = bob.page.locator("#chart-equity").screenshot()
        assert _drawn(chart, (0x1D, 0x4E, 0xD8)) > 150
        assert _drawn(chart, (0xB9, 0x1C, 0x1C)) > 50  # the drawdown line
        assert _drawn(bob.page.locator("#chart-latency").screenshot(), (0x05, 0x96, 0x69)) > 50
        bob.shot("02-version-1280")

        text = bob.act("#act-shadow", "shadow run before the open")
        assert "shadow of version 2 requested" in text
        assert [op.status for op in deployer_reg.reconcile(NAME)] == ["completed"]
        reg.record_shadow_metrics(NAME, 2, GOOD_SHADOW, actor="runtime")
        bob.go(f"/strategies/{NAME}/versions/2")
        assert bob.page.inner_text("#stage") == "shadow"
        bob.logout()

        bob.login("cat")  # a second user, not the author (ann)
        bob.go(f"/strategies/{NAME}/versions/2")
        text = bob.act("#act-approve", "reviewed the diff and the shadow fills")
        assert "approved" in text and bob.page.inner_text("#approvals") == "cat"
        bob.logout()

        bob.login("bob")
        bob.go(f"/strategies/{NAME}/versions/2")
        text = bob.act("#act-live", "shadow gate held")
        assert "live of version 2 requested" in text
        deployer_reg.reconcile(NAME)
        bob.go(f"/strategies/{NAME}/versions/2")
        assert bob.page.inner_text("#stage") == "live"

        v2 = reg.versions(NAME)[1]
        _Status.body["metrics"]["instances"][0]["build_id"] = v2.build_id
        fills = reg.scorecard(NAME, 2)["metrics"]["fills"]
        bob.go("/deployments")
        # (a selector, not a JS predicate: the page's CSP forbids eval)
        bob.page.wait_for_selector("#runtime-state:has-text('updated')", timeout=10_000)
        metrics = bob.page.inner_text(".metrics")
        assert "PRICE_BAND 2" in metrics and "DSHB 7" in metrics and "2,900" in metrics
        drift = bob.page.inner_text(".drift")
        assert f"fills\t{fills}\t-\t17" in drift and "fill ratio\t" in drift, drift
        bob.shot("03-deployments-1280")

        bob.go(f"/strategies/{NAME}/versions/2")
        text = bob.act("#act-rollback", "fills drift from the backtest")
        assert "rollback of version 1 requested" in text
        deployer_reg.reconcile(NAME)
        assert [v.stage for v in reg.versions(NAME)] == ["live", "retired"]

        bob.go(f"/audit?strategy={NAME}&action=rollback")
        audit = bob.page.inner_text("#audit")
        assert "fills drift from the backtest" in audit and "bob" in audit
        assert "hash chain intact" in bob.page.inner_text("#chain")
        bob.go(f"/audit?strategy={NAME}&actor=cat")
        assert "version.approved" in bob.page.inner_text("#audit")
        bob.shot("04-audit-1280")
        assert bob.errors == []
    finally:
        bob.close()


def test_pages_fit_a_390_px_screen(pw, world) -> None:
    phone = Browser(pw, world["chromium"], world["base"], 390, 844)
    try:
        phone.login("vic")
        for n, path in enumerate(("/", f"/strategies/{NAME}/versions/1", "/deployments",
                                  "/audit", "/reviews", f"/strategies/{NAME}")):
            phone.go(path)
            phone.page.wait_for_load_state()
            width = phone.page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
            phone.shot(f"10-narrow-{n}")
        phone.go(f"/strategies/{NAME}/versions/1")
        assert _drawn(phone.page.locator("#chart-equity").screenshot(), (0x1D, 0x4E, 0xD8)) > 80
        # a viewer sees no action buttons
        assert phone.page.locator("#act-shadow").count() == 0
        assert phone.errors == []
    finally:
        phone.close()
