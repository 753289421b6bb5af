"""Who is calling, and may they? One place for the role checks of pages and API.

* Pages use Flask-Login sessions (cookie + CSRF): ``page_roles``. Each signed-in session is
  also held server-side (``backend.accounts.sessions``): ``sign_in``, ``renew_session`` and
  ``sign_out`` are the only ways pages start and end one.
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
from flask_login import current_user, login_user, logout_user, user_logged_in, user_logged_out
from flask_smorest.utils import deepupdate

from .accounts.exceptions import InvalidToken
from .accounts.models import Role, User
from .accounts.services import user_for_token
from .accounts.sessions import end_session, session_user, start_session
from .errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SECURITY = [{"bearerAuth": []}]
# Documented on every protected operation (the body is the common ErrorSchema).
BEARER_ERRORS = {"401": "UNAUTHORIZED", "403": "FORBIDDEN"}


def bearer_token() -> str | None:
    return bearer_of(request.headers.get("Authorization", ""))


def bearer_of(header: str) -> str | None:
    """The token of an ``Authorization: Bearer …`` header value (None for any other)."""
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


# The cookie's key of the server-side session (backend.accounts.sessions).
SESSION_KEY = "sid"
# What survives a renewal of the session: Flask-Login's own keys and the second factor.
_KEPT_ON_RENEWAL = ("_user_id", "_fresh", "_id", SECOND_FACTOR_KEY)


def sign_in(user: User) -> None:
    """Start a new signed-in session for ``user``: whatever the cookie held before (a key
    planted by someone else included) is dropped, and a session it held ends."""
    end_session(current_session_key())
    session.clear()
    login_user(user)
    session[SESSION_KEY] = start_session(user)


def renew_session(user: User) -> None:
    """A new session key for the same signed-in user (after the second factor or a password
    change): the key that existed before stops working, wherever it was copied."""
    end_session(current_session_key())
    kept = {key: session[key] for key in _KEPT_ON_RENEWAL if key in session}
    session.clear()
    session.update(kept)
    session[SESSION_KEY] = start_session(user)


def sign_out() -> None:
    """End this session everywhere its cookie was copied, and clear the cookie and the
    browser's copies of the resident's pages (``backend.security``: Clear-Site-Data)."""
    end_session(current_session_key())
    logout_user()
    session.clear()
    g.signed_out = True


def current_session_key() -> str | None:
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) else None


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of the cookie's live server-side session, if the
    cookie names that user (``<id>:<session_version>``, so old sessions die on a change)."""
    user = session_user(current_session_key())
    if user is None or user.get_id() != user_id:
        return None
    return user


def mark_second_factor(user: User) -> None:
    renew_session(user)
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
