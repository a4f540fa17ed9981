"""Login rate limiting, CSRF tokens and the session's user (no HTTP framework types here
either, except what the routers hand in as plain values).

Sessions are Starlette's signed cookies (itsdangerous, HMAC-SHA1 over the payload with the
dashboard's secret key; HttpOnly always, SameSite=Strict, Secure unless bound to loopback —
see settings). The session holds only the user name, a CSRF token and when it logged in; the
user's role is read from the registry on every request, so a removed user or a changed role
takes effect at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from typing import Callable

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRateLimiter:
    """At most ``attempts`` failed logins per (user, client address) within ``window_s``
    seconds; a success clears the key. In memory: one dashboard process."""

    def __init__(self, attempts: int, window_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window_s
        while q and q[0] <= cutoff:
            q.popleft()
        return q

    def retry_after(self, user: str, address: str) -> float | None:
        """Seconds until the next attempt is allowed, or None when it is allowed now."""
        key = (user.lower(), address)
        with self._lock:
            q = self._recent(key)
            if len(q) < self.attempts:
                return None
            return max(0.0, q[0] + self.window_s - self.clock())

    def failed(self, user: str, address: str) -> None:
        with self._lock:
            self._recent((user.lower(), address)).append(self.clock())

    def succeeded(self, user: str, address: str) -> None:
        with self._lock:
            self._failures.pop((user.lower(), address), None)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(session_token: str | None, sent: str | None) -> bool:
    """The token sent with a form (or header) is the session's (constant-time compare)."""
    return bool(session_token) and bool(sent) and secrets.compare_digest(
        str(session_token), str(sent))
