"""The bench's personas stay within the platform's rate limits (loadtests/pacing.py's
``LIMITS``): those must be the application's own, or the bench would either send requests
the platform refuses (429, failed requests) or simulate a slower population than it could."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_limiter.util import get_qualified_name

from backend.extensions import limiter
from loadtests import pacing as limits

# the bench's kinds of limited request -> the endpoints the personas send them to
ENDPOINTS = {
    "claim-code": ("actions.ClaimCodes",),
    "redeem": ("rewards.Redeem",),
    "claim": ("actions.Claims",),
    "fulfil": ("rewards.Fulfil",),
    "push": ("actions.Batches",),
    "login": ("mobile.login", "admin.login", "admin.two_factor", "accounts.Token"),
}


def _per_minute(app: Flask, endpoint: str) -> list[float]:
    name = get_qualified_name(app.view_functions[endpoint])
    return [
        lim.limit.amount * 60 / lim.limit.get_expiry()
        for lim in limiter.limit_manager.decorated_limits(name)
    ]


def test_the_personas_limits_are_the_applications(app: Flask) -> None:
    assert set(ENDPOINTS) == set(limits.LIMITS)
    with app.test_request_context():
        for kind, endpoints in ENDPOINTS.items():
            for endpoint in endpoints:
                assert _per_minute(app, endpoint) == [limits.LIMITS[kind]], (kind, endpoint)


def test_a_pool_never_uses_a_credential_beyond_its_share(monkeypatch: Any) -> None:
    clock = {"now": 1000.0}
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(limits.time, "monotonic", lambda: clock["now"])
    pool = limits.Pool("redeem", ["a", "b"], sleep)  # 30 a minute each, 24 with the headroom
    taken = [pool.take() for _ in range(48)]
    assert taken.count("a") == taken.count("b") == 24 and not waits
    assert pool.take() in ("a", "b")  # the 49th within the minute waits for the first to free
    assert len(waits) == 1 and clock["now"] >= 1060
    assert limits.WAITS["redeem"] >= 1


def test_each_process_has_its_own_credentials() -> None:
    tokens = [f"t{i}" for i in range(5)]
    first, second = limits.share(tokens, 0, 2), limits.share(tokens, 1, 2)
    assert not set(first) & set(second) and set(first) | set(second) == set(tokens)
