"""Rate-limit keys: who the limiter counts a request against.

The partner's signature is verified, and remembered for the view, when the limiter asks who
the caller is, before the view runs; a bearer token is looked up the same way. Both lookups
live here, next to the authentication they use, so the extension singletons stay free of
features (``backend.extensions`` holds only the ``limiter`` itself).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import Response, current_app, g, request
from flask_limiter.util import get_remote_address
from flask_login import current_user

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
