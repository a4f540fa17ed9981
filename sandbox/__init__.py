"""Isolation for untrusted generated code: every compile, test and backtest of it runs here."""

from stratforge.sandbox.base import Limits, Mount, Reason, RunRequest, RunResult
from stratforge.sandbox.local import LocalBackend

__all__ = ["Limits", "LocalBackend", "Mount", "Reason", "RunRequest", "RunResult"]
