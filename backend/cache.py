"""A small time-to-live cache for expensive read-side figures (the district leaderboard, the
admin dashboard). Per process: each gunicorn worker recomputes at most once per period.
``READ_CACHE_SECONDS`` sets the period (0 turns caching off; the test suite does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")
_STORE: dict[Hashable, tuple[float, object]] = {}
_LOCK = threading.Lock()
LIMIT = 2048  # entries per process (a chart is ~10 KB)


def cached(key: Hashable, compute: Callable[[], T], seconds: int | None = None) -> T:
    ttl = current_app.config["READ_CACHE_SECONDS"] if seconds is None else seconds
    if ttl <= 0:
        return compute()
    now = time.monotonic()
    with _LOCK:
        hit = _STORE.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[return-value]
    value = compute()
    with _LOCK:
        _STORE[key] = (now + ttl, value)
        if len(_STORE) > LIMIT:  # keep it small: drop what has expired, or else everything
            for stale in [k for k, (expires, _) in _STORE.items() if expires <= now]:
                del _STORE[stale]
            if len(_STORE) > LIMIT:
                _STORE.clear()
    return value
