"""A small time-to-live cache for expensive read-side figures (the district leaderboard, the
admin dashboard). ``cached`` is per process: each gunicorn worker recomputes at most once per
period. ``shared`` keeps a figure in Redis for every process (when Redis is configured), for
figures that take seconds to compute, such as the admin dashboard; ``store`` puts a fresh one
there (a periodic job refreshes it ahead, so no request waits for it).
``READ_CACHE_SECONDS`` sets the period (0 turns caching off; the test suite does)."""

from __future__ import annotations

import pickle  # noqa: S403 - our own values, in our own Redis (RQ pickles its jobs there too)
import threading
import time
from collections.abc import Callable, Hashable
from contextlib import suppress
from typing import Any, TypeVar

from flask import current_app
from redis.exceptions import RedisError

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


def _redis() -> Any:
    return current_app.extensions.get("redis")


def _shared_key(key: Hashable) -> str:
    return f"cache:{key!r}"


def shared(key: Hashable, compute: Callable[[], T], seconds: int | None = None) -> T:
    """``cached`` across processes: the value lives in Redis for ``seconds`` (when Redis is
    configured and answers; otherwise per process, as ``cached``)."""
    ttl = current_app.config["READ_CACHE_SECONDS"] if seconds is None else seconds
    redis = _redis()
    if ttl <= 0 or redis is None:
        return cached(key, compute, seconds)
    try:
        raw = redis.get(_shared_key(key))
    except RedisError:
        return cached(key, compute, seconds)
    if raw is not None:
        try:
            return pickle.loads(raw)  # type: ignore[no-any-return]  # noqa: S301 - by store()
        except Exception as exc:  # noqa: BLE001 - written by an older release: compute again
            current_app.logger.info("shared cache %r unreadable (%s)", key, type(exc).__name__)
    return store(key, compute(), ttl)


def store(key: Hashable, value: T, seconds: int | None = None) -> T:
    """Put a freshly computed value in the shared cache (and return it)."""
    ttl = current_app.config["READ_CACHE_SECONDS"] if seconds is None else seconds
    redis = _redis()
    if ttl > 0 and redis is not None:
        with suppress(RedisError):  # Redis down: the next request computes again
            redis.set(_shared_key(key), pickle.dumps(value), ex=ttl)
    return value
