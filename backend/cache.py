"""A small time-to-live cache for expensive read-side figures (the district leaderboard, the
admin dashboard). ``cached`` is per process: each gunicorn worker recomputes at most once per
period. ``shared`` keeps a figure in Redis for every process (when Redis is configured), for
figures that take seconds to compute, such as the admin dashboard; ``store`` puts a fresh one
there (a periodic job refreshes it ahead, so no request waits for it). Values in Redis are
JSON (``dumps`` / ``loads``), never pickles: a write to Redis cannot become code execution;
dataclasses and enums travel only when registered with ``json_types``.
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
from typing import Any, TypeVar

from flask import current_app
from flask_babel import gettext, ngettext, pgettext
from flask_babel.speaklater import LazyString
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
            return loads(raw)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - written by an older release: compute again
            current_app.logger.info("shared cache %r unreadable (%s)", key, type(exc).__name__)
    return store(key, compute(), ttl)


def store(key: Hashable, value: T, seconds: int | None = None) -> T:
    """Put a freshly computed value in the shared cache (and return it)."""
    ttl = current_app.config["READ_CACHE_SECONDS"] if seconds is None else seconds
    redis = _redis()
    if ttl > 0 and redis is not None:
        with suppress(RedisError):  # Redis down: the next request computes again
            redis.set(_shared_key(key), dumps(value), ex=ttl)
    return value
