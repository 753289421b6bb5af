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

from flask import g, redirect, request, session, url_for
from flask_login import current_user, user_logged_in, user_logged_out
from flask_smorest.utils import deepupdate

from .accounts.exceptions import InvalidToken
from .accounts.models import Role, User
from .accounts.services import user_for_token
from .errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SECURITY = [{"bearerAuth": []}]
# Documented on every protected operation (the body is the common ErrorSchema).
BEARER_ERRORS = {"401": "UNAUTHORIZED", "403": "FORBIDDEN"}


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


def document_security(func: Any, **doc: Any) -> None:
    """Document a view's authentication in the OpenAPI spec (its security and error responses)."""
    func._apidoc = deepcopy(getattr(func, "_apidoc", {}))
    func._apidoc["manual_doc"] = deepupdate(func._apidoc.get("manual_doc", {}), doc)


def api_roles(*roles: Role) -> Callable[[F], F]:
    """Require a bearer token of one of ``roles`` (any role when none is given)."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = api_user()
            if roles and user.role not in roles:
                raise Forbidden()
            return func(*args, **kwargs)

        document_security(wrapper, security=BEARER_SECURITY, responses=BEARER_ERRORS)
        return wrapper  # type: ignore[return-value]

    return decorator


# Administrators sign in in two steps (password, then TOTP or a recovery code). The session
# is fully signed in only once this key holds the user's ``get_id()`` (id and session version,
# so a bumped session version or another user's sign-in voids it).
SECOND_FACTOR_KEY = "second_factor_for"


def mark_second_factor(user: User) -> None:
    session[SECOND_FACTOR_KEY] = user.get_id()


def second_factor_done(user: Any) -> bool:
    if getattr(user, "role", None) is not Role.ADMIN:
        return True
    return bool(session.get(SECOND_FACTOR_KEY) == user.get_id())


def _forget_second_factor(*_args: Any, **_kwargs: Any) -> None:
    session.pop(SECOND_FACTOR_KEY, None)


# Any sign-in or sign-out, through any door, starts again from the first step.
user_logged_in.connect(_forget_second_factor)
user_logged_out.connect(_forget_second_factor)


def page_roles(*roles: Role, login_endpoint: str = "mobile.login") -> Callable[[F], F]:
    """Require a signed-in session user of one of ``roles``; others see 403. An administrator
    who has not completed the second factor is sent to it first."""

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            here = request.full_path.rstrip("?")
            if not current_user.is_authenticated:
                return redirect(url_for(login_endpoint, next=here))
            if roles and current_user.role not in roles:
                raise Forbidden()
            if not second_factor_done(current_user):
                return redirect(url_for("admin.two_factor", next=here))
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
