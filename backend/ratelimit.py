"""Rate-limit keys: who the limiter counts a request against.

The partner's signature is verified, and remembered for the view, when the limiter asks who
the caller is, before the view runs; a bearer token is looked up the same way. Both lookups
live here, next to the authentication they use, so the extension singletons stay free of
features (``backend.extensions`` holds only the ``limiter`` itself).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, has_request_context, request
from flask_limiter.util import get_remote_address
from flask_login import current_user
from limits.storage import RedisStorage

from .auth import api_user
from .errors import DomainError
from .partners.auth import authenticated_partner


def caller_key() -> str:
    """Rate-limit key for authenticated calls: the user behind a bearer token (however many
    tokens they hold), the signed-in user (pages) or the partner's key, so one busy caller
    cannot exhaust the limit of everyone behind the same address (a campus NAT, an
    operator's gateway); anonymous calls fall back to the address."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme == "HMAC-SHA256":
        try:  # only a valid signature counts against a partner's own limit
            return f"partner:{authenticated_partner().id}"
        except DomainError:  # forged or stale: counted against the sender's address
            return "ip:" + str(get_remote_address())
    if scheme.lower() == "bearer" and value:
        try:  # per user, however many tokens they hold (the view reuses the lookup)
            return f"user:{api_user().id}"
        except DomainError:  # an invalid token: the view answers 401 after the count
            return "token:" + hashlib.sha256(value.encode()).hexdigest()[:32]
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return "ip:" + str(get_remote_address())


def limit_setting(name: str) -> Callable[[], str]:
    """A rate limit read from the configuration when a request is checked, for
    ``limiter.limit(limit_setting("RATELIMIT_CARD"), key_func=caller_key)``."""

    def value() -> str:
        return str(current_app.config[name])

    return value


def input_rejected() -> None:
    """The request's input failed validation (a field left empty, a typo at the counter):
    ``counts_as_attempt`` then leaves it out of the abuse limit, so people fixing a form are
    not locked out. Guessing (a wrong SMS code, an unknown claim code) still counts."""
    g.input_rejected = True


def counts_as_attempt(_response: Response) -> bool:
    """``deduct_when`` for limits meant for abuse: every request but rejected input."""
    return not g.get("input_rejected", False)


# --- one Redis round trip per limit checked --------------------------------------------------

# limits' fixed-window increment (INCRBY, EXPIRE when the window opens) that also answers
# the window's remaining seconds
INCR_EXPIRE_TTL = """
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if tonumber(current) == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""
ONE_TRIP = "onetrip+"
WINDOWS = "carbon.ratelimit_windows"  # WSGI environ key: this request's counted windows


def one_trip_storage_uri(uri: str) -> str:
    """The limiter's storage URI with Redis counted by ``OneTripRedisStorage``."""
    if uri.startswith(("redis://", "rediss://")):
        return ONE_TRIP + uri
    return uri


class OneTripRedisStorage(RedisStorage):
    """limits' Redis storage, counting a request with one round trip instead of three.

    A limited request was an ``EVALSHA`` (increment) and then, for the ``X-RateLimit-*``
    headers, a ``GET`` of the count just returned and a ``TTL`` of the window. Here the
    increment also returns the window's TTL, and both are remembered for the rest of the
    request (in its WSGI environ, so never for another request): the headers read them. The
    limits count exactly as before (the same keys, increments and expiries); ``test`` before
    a view and anything outside a request still read Redis."""

    STORAGE_SCHEME = [ONE_TRIP + "redis", ONE_TRIP + "rediss"]

    def __init__(self, uri: str, **options: Any) -> None:
        super().__init__(uri.removeprefix(ONE_TRIP), **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_incr_expire_ttl = self.get_connection().register_script(INCR_EXPIRE_TTL)

    @staticmethod
    def _windows() -> dict[str, tuple[int, float]] | None:
        if not has_request_context():
            return None
        windows: dict[str, tuple[int, float]] = request.environ.setdefault(WINDOWS, {})
        return windows

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        count, ttl = self.lua_incr_expire_ttl([self.prefixed_key(key)], [expiry, amount])
        windows = self._windows()
        if windows is not None:
            windows[key] = (int(count), time.time() + max(int(ttl), 0))
        return int(count)

    def get(self, key: str) -> int:
        windows = self._windows()
        if windows is not None and key in windows:
            return windows[key][0]
        return super().get(key)

    def get_expiry(self, key: str) -> float:
        windows = self._windows()
        if windows is not None and key in windows:
            return windows[key][1]
        return super().get_expiry(key)

    def clear(self, key: str) -> None:
        windows = self._windows()
        if windows is not None:
            windows.pop(key, None)
        super().clear(key)
