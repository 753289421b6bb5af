"""Password hashes run on threads of lower CPU priority (PASSWORD_HASH_NICE), unchanged."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from backend.accounts import services


def _niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_hash_and_verify_give_the_same_answers_on_the_hashing_threads(app):
    with app.app_context():
        assert app.config["PASSWORD_HASH_NICE"] > 0
        stored = services.hash_password("correct horse battery")
        assert stored.startswith("$argon2id$")
        assert services.verify_password(stored, "correct horse battery")
        assert not services.verify_password(stored, "wrong horse battery")
        assert not services.verify_password("not-a-hash", "correct horse battery")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness")
def test_hashing_runs_on_another_thread_at_lower_priority(app):
    mine = _niceness()
    with app.app_context():
        nice = app.config["PASSWORD_HASH_NICE"]
        thread, niceness = services._at_low_priority(
            lambda: (threading.get_native_id(), _niceness())
        )
    assert thread != threading.get_native_id()
    assert niceness == min(19, mine + nice)
    assert _niceness() == mine  # the request's own thread keeps its priority


def test_nice_zero_hashes_on_the_requests_own_thread(app, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_NICE", 0)
    with app.app_context():
        thread = services._at_low_priority(threading.get_native_id)
        assert services.verify_password(services.hash_password("x" * 12), "x" * 12)
    assert thread == threading.get_native_id()
