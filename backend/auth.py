"""Who is calling, and may they? One place for the role checks of pages and API.

* Pages use Flask-Login sessions (cookie + CSRF): ``page_roles``.
* The JSON API uses bearer tokens only (never the session cookie, so no CSRF exposure):
  ``api_roles``.
* Partners sign their requests with HMAC (``backend.partners.auth.partner_required``).
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import g, redirect, request, url_for
from flask_login import current_user

from .accounts.exceptions import InvalidToken
from .accounts.models import Role, User
from .accounts.services import user_for_token
from .errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SECURITY = [{"bearerAuth": []}]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def api_user() -> User:
    """The user behind the request's bearer token (401 if none or invalid)."""
    if "api_user" not in g:
        raw = bearer_token()
        if raw is None:
            raise InvalidToken()
        g.api_user = user_for_token(raw)
    user: User = g.api_user
    return user


def _add_doc(func: Any, **doc: Any) -> None:
    func._apidoc = deepcopy(getattr(func, "_apidoc", {}))
    func._apidoc.setdefault("manual_doc", {}).update(doc)


def api_roles(*roles: Role) -> Callable[[F], F]:
    """Require a bearer token of one of ``roles`` (any role when none is given)."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = api_user()
            if roles and user.role not in roles:
                raise Forbidden()
            return func(*args, **kwargs)

        _add_doc(wrapper, security=BEARER_SECURITY)
        return wrapper  # type: ignore[return-value]

    return decorator


def page_roles(*roles: Role, login_endpoint: str = "mobile.login") -> Callable[[F], F]:
    """Require a signed-in session user of one of ``roles``; others see 403."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return redirect(url_for(login_endpoint, next=request.full_path.rstrip("?")))
            if roles and current_user.role not in roles:
                raise Forbidden()
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


HOME_ENDPOINTS = {
    Role.RESIDENT: "mobile.home",
    Role.MERCHANT_STAFF: "mobile.merchant_home",
    Role.ORGANISER: "mobile.organiser_home",
    Role.ADMIN: "admin.dashboard",
}


def home_url(user: User) -> str:
    return url_for(HOME_ENDPOINTS[user.role])
