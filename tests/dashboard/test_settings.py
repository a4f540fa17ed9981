"""The dashboard's settings: the session key file, the cookie's Secure flag by address, and the
`stratforge dashboard` command's bad input."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.cli import main
from stratforge.core.errors import UserInputError
from stratforge.dashboard.settings import DashboardSettings, is_loopback


def test_the_secret_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    s = DashboardSettings(secret_key_file=tmp_path / "cfg" / "dashboard.key")
    key = s.secret_key()
    assert len(key) == 64 and s.secret_key() == key
    assert stat.S_IMODE((tmp_path / "cfg" / "dashboard.key").stat().st_mode) == 0o600


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("tooshort\n")
    with pytest.raises(UserInputError, match="shorter than 32"):
        DashboardSettings(secret_key_file=tmp_path / "k").secret_key()


@pytest.mark.parametrize(("host", "secure"), [("127.0.0.1", False), ("::1", False),
                                               ("localhost", False), ("0.0.0.0", True),
                                               ("10.4.5.6", True), ("dash.example.test", True)])
def test_the_cookie_is_secure_unless_bound_to_loopback(host: str, secure: bool) -> None:
    assert DashboardSettings(host=host).secure_cookie() is secure
    assert is_loopback(host) is not secure
    assert DashboardSettings(host=host, cookie_secure=True).secure_cookie() is True


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATFORGE_DB_URL", "sqlite:////nowhere/r.db")
    monkeypatch.setenv("STRATFORGE_DASHBOARD_PORT", "9123")
    monkeypatch.setenv("STRATFORGE_DASHBOARD_RUNTIME_URL", "http://127.0.0.1:9109")
    s = DashboardSettings()
    assert (s.db_url, s.port, s.runtime_url) == ("sqlite:////nowhere/r.db", 9123,
                                                 "http://127.0.0.1:9109")


def test_dashboard_command_refuses_a_bad_port() -> None:
    r = CliRunner().invoke(main, ["dashboard", "--port", "70000"])
    assert r.exit_code == 2 and "70000" in r.output
