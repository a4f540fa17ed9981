"""Registry.audit_head: the newest record's (seq, hash), the dashboard's cache key — read
without waiting for a writer on SQLite."""

from __future__ import annotations

import threading
import time

from registry_kit import register, staff

from stratforge.registry import Registry


def test_audit_head_follows_every_change(reg: Registry) -> None:
    assert reg.audit_head() == reg.verify_audit()[1:]
    staff(reg)
    before = reg.audit_head()
    register(reg)
    after = reg.audit_head()
    assert after[0] > before[0] and after == reg.verify_audit()[1:]


def test_audit_head_does_not_queue_behind_a_writer(reg: Registry) -> None:
    if reg.engine.dialect.name != "sqlite":
        return  # PostgreSQL readers never wait for writers
    staff(reg)
    expected = reg.audit_head()
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with reg._tx():  # noqa: SLF001 - BEGIN IMMEDIATE: holds the write lock
            holding.set()
            release.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert holding.wait(5)
        start = time.monotonic()
        assert reg.audit_head() == expected
        assert time.monotonic() - start < 1.0  # not the 30 s busy timeout
    finally:
        release.set()
        t.join()
