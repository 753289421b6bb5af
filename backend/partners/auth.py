"""The decorator that admits HMAC-signed partner requests to an API view."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from ..auth import document_security
from .models import Partner
from .services import verify_signed_request

F = TypeVar("F", bound=Callable[..., Any])


def signed_path() -> str:
    query = request.query_string.decode()
    return f"{request.path}?{query}" if query else request.path


def current_partner() -> Partner:
    partner: Partner = g.partner
    return partner


def authenticated_partner() -> Partner:
    """The partner whose valid signature the request carries, verified once per request
    (the rate limiter asks first, the view after it); 401 if none."""
    if "partner" not in g:
        g.partner = verify_signed_request(
            request.method,
            signed_path(),
            request.headers.get("X-Timestamp"),
            request.get_data(cache=True),
            request.headers.get("Authorization"),
        )
    return current_partner()


def partner_required(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        authenticated_partner()
        return func(*args, **kwargs)

    document_security(wrapper, security=[{"partnerHmac": []}], responses={"401": "UNAUTHORIZED"})
    return wrapper  # type: ignore[return-value]
