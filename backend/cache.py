"""A small time-to-live cache for expensive read-side figures (the district leaderboard, the
admin dashboard). ``cached`` is per process: each gunicorn worker recomputes at most once per
period. ``latest`` serves a figure that takes seconds to compute, such as the admin dashboard,
as it was last computed, from Redis for every process, and asks a job to compute it again when
it is old (stale-while-refresh: no request computes it); ``keep`` puts a fresh one there.
Values in Redis are JSON (``dumps`` / ``loads``), never pickles: a write to Redis cannot become
code execution; dataclasses and enums travel only when registered with ``json_types``.
``READ_CACHE_SECONDS`` sets the period (0 turns caching off; the test suite does)."""

from __future__ import annotations

import dataclasses
import enum
import json
import threading
import time
from collections.abc import Callable, Hashable
from contextlib import suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from flask import current_app
from flask_babel import gettext, ngettext, pgettext
from flask_babel.speaklater import LazyString
from redis.exceptions import RedisError

from .timeutil import utcnow

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


def peek(key: Hashable, seconds: int) -> Any:
    """What ``cached(key, ..., seconds)`` would serve without computing anything: the value
    it holds while fresh, else None (never computed, expired, or caching off)."""
    if seconds <= 0:
        return None
    with _LOCK:
        hit = _STORE.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


# --- JSON for the shared cache ------------------------------------------------------------

_TYPES: dict[str, type] = {}
_LAZY = {"gettext": gettext, "ngettext": ngettext, "pgettext": pgettext}


def json_types(*classes: type) -> None:
    """Allow these dataclasses and enums in the shared cache (by name, nothing else)."""
    for cls in classes:
        _TYPES[f"{cls.__module__}:{cls.__qualname__}"] = cls


def _name(cls: type) -> str:
    name = f"{cls.__module__}:{cls.__qualname__}"
    if name not in _TYPES:
        raise TypeError(f"{name} is not registered with cache.json_types")
    return name


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return {"__enum": _name(type(value)), "v": value.value}
    if isinstance(value, Decimal):
        return {"__dec": str(value)}
    if isinstance(value, datetime):
        return {"__dt": value.isoformat()}
    if isinstance(value, date):
        return {"__date": value.isoformat()}
    if isinstance(value, LazyString):
        func = getattr(value._func, "__name__", "")
        if func in _LAZY:
            return {"__lazy": func, "a": _encode(list(value._args)), "k": _encode(value._kwargs)}
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dc": _name(type(value)), "f": fields}
    if isinstance(value, tuple):
        return {"__tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"{type(value).__name__} cannot be cached as JSON")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__dict" in value:
        return {_freeze(_decode(k)): _decode(v) for k, v in value["__dict"]}
    if "__tuple" in value:
        return tuple(_decode(v) for v in value["__tuple"])
    if "__dec" in value:
        return Decimal(value["__dec"])
    if "__dt" in value:
        return datetime.fromisoformat(value["__dt"])
    if "__date" in value:
        return date.fromisoformat(value["__date"])
    if "__lazy" in value:
        return LazyString(_LAZY[value["__lazy"]], *_decode(value["a"]), **_decode(value["k"]))
    if "__enum" in value:
        return _TYPES[value["__enum"]](value["v"])
    if "__dc" in value:
        return _TYPES[value["__dc"]](**{k: _decode(v) for k, v in value["f"].items()})
    raise ValueError("not a cached value")


def _freeze(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def dumps(value: Any) -> bytes:
    return json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":")).encode()


def loads(raw: bytes) -> Any:
    return _decode(json.loads(raw))


def _redis() -> Any:
    return current_app.extensions.get("redis")


def _shared_key(key: Hashable) -> str:
    return f"cache:{key!r}"


@dataclasses.dataclass(frozen=True)
class Snapshot(Generic[T]):
    """A figure as it was last computed, and when (UTC)."""

    value: T
    computed_at: datetime
    stale: bool = False  # older than READ_CACHE_SECONDS: a refresh has been asked for


# How long the last computed figures are kept when nothing refreshes them (the periodic job
# does every few minutes): an administrator sees old figures, with their age, not none.
KEEP_SECONDS = 7 * 86400


def latest(
    key: Hashable, compute: Callable[[], T], refresh: Callable[[], object]
) -> Snapshot[T] | None:
    """Stale-while-refresh across processes, for figures that take seconds to compute: the
    value last kept in Redis for ``key`` (``keep``), however old, with the time it was
    computed. When there is none, or it is older than ``READ_CACHE_SECONDS``, ``refresh`` is
    called, once per period across every process (a Redis lock): it enqueues the job that
    computes and keeps the value, and the request serves what there is meanwhile (None when
    nothing was ever computed). No request computes it, so no request waits for it.

    Without caching (``READ_CACHE_SECONDS`` 0, the test suite) ``compute`` runs on the
    request; without Redis, or when it does not answer, once per period per process."""
    ttl = current_app.config["READ_CACHE_SECONDS"]
    redis = _redis()
    if ttl <= 0 or redis is None:
        return Snapshot(*cached(key, lambda: (compute(), utcnow())))
    try:
        found = _kept(redis, key)
        if found is None or (utcnow() - found.computed_at).total_seconds() > ttl:
            if redis.set(f"refresh:{key!r}", b"1", nx=True, ex=ttl):
                refresh()
                found = _kept(redis, key) or found  # an inline job (no RQ worker) kept it
            if found is not None and (utcnow() - found.computed_at).total_seconds() > ttl:
                found = dataclasses.replace(found, stale=True)
        return found
    except RedisError:
        return Snapshot(*cached(key, lambda: (compute(), utcnow())))


def _kept(redis: Any, key: Hashable) -> Snapshot[Any] | None:
    raw = redis.get(_shared_key(key))
    if raw is None:
        return None
    try:
        computed_at, value = loads(raw)
    except Exception as exc:  # noqa: BLE001 - written by an older release: compute again
        current_app.logger.info("shared cache %r unreadable (%s)", key, type(exc).__name__)
        return None
    return Snapshot(value, computed_at)


def keep(key: Hashable, value: T, computed_at: datetime | None = None) -> T:
    """Keep a freshly computed value for every process (``latest`` serves it), and return it."""
    redis = _redis()
    if redis is not None:
        with suppress(RedisError):  # Redis down: each process computes its own (``latest``)
            stamped = (computed_at or utcnow(), value)
            redis.set(_shared_key(key), dumps(stamped), ex=KEEP_SECONDS)
    return value
