"""Domain errors and the one place that turns any error into a response.

Services raise ``DomainError`` subclasses (never ``abort``). API requests get JSON
``{"code", "message", "details"}`` with the message in the request's language; pages get an
HTML error page. Nothing a client sends may produce a 500.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule of the domain was broken by the request. Subclasses set code, status, message."""

    code = "error"
    status = 400
    message: Any = _l("The request could not be processed.")

    def __init__(
        self, message: Any = None, *, details: Any = None, field: str | None = None, **params: Any
    ) -> None:
        super().__init__(self.code)
        if message is not None:
            self.message = message
        self.details = details
        self.field = field
        self.params = params

    def localized_message(self) -> str:
        text = str(self.message)
        return text % self.params if self.params else text

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.localized_message(), "details": self.details}


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = _l("The requested item does not exist.")


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    message = _l("You are not allowed to do this.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    message = _l("The request conflicts with the current state.")


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
    status = 503
    message = _l("A service the platform needs is unavailable. Please try again shortly.")


HTTP_CODES: dict[int, tuple[str, Any]] = {
    400: ("bad_request", _l("The request was malformed.")),
    401: ("unauthorized", _l("Please sign in first.")),
    403: ("forbidden", _l("You are not allowed to do this.")),
    404: ("not_found", _l("The requested item does not exist.")),
    405: ("method_not_allowed", _l("This method is not allowed here.")),
    409: ("conflict", _l("The request conflicts with the current state.")),
    413: ("payload_too_large", _l("The request body is too large.")),
    415: ("unsupported_media_type", _l("This content type is not supported.")),
    422: ("validation_error", _l("Some fields are missing or invalid.")),
    429: ("rate_limited", _l("Too many requests. Please wait a moment and try again.")),
    500: ("internal_error", _l("Something went wrong on our side. Please try again.")),
    503: (
        "service_unavailable",
        _l("A service the platform needs is unavailable. Please try again shortly."),
    ),
}
MALFORMED_JSON = ("malformed_json", _l("The request body is not valid JSON."))
CSRF_FAILED = (
    "csrf_failed",
    _l("This form has expired or was not sent from this site. Reload the page and try again."),
)


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: Any = None
) -> Response | tuple[Any, ...]:
    if wants_json():
        response = jsonify({"code": code, "message": message, "details": details})
        response.status_code = status
    else:
        html = render_template("errors/error.html", status=status, code=code, message=message)
        response = Response(html, status=status, mimetype="text/html")
    if headers:
        for name, value in dict(headers).items():
            if name.lower() in {
                "allow",
                "retry-after",
                "www-authenticate",
            } or name.lower().startswith("x-ratelimit"):
                response.headers[name] = value
    return response


def _http_details(exc: HTTPException) -> tuple[str, str, Any]:
    code, message = HTTP_CODES.get(exc.code or 500, ("error", exc.description))
    if isinstance(exc, CSRFError):  # a missing, stale or foreign form token
        code, message = CSRF_FAILED
    details = None
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if messages:
        if exc.code == 400 and "json" in messages and "Invalid JSON body." in str(messages):
            code, message = MALFORMED_JSON
        else:
            # webargs nests by location: {"json": {"field": ["msg"]}}; keep the field map
            details = messages.get("json", messages) if len(messages) == 1 else messages
    return code, str(message), details


def describe(exc: BaseException) -> str:
    """An exception as it may be logged. A database error's text can carry the values of a
    row (PostgreSQL's DETAIL: "Failing row contains (..., 13800000001, ...)"), so only its
    class, SQLSTATE, statement (bound values are hidden by ``hide_parameters``) and where it
    was raised are kept."""
    if not isinstance(exc, DBAPIError):
        return "".join(traceback.format_exception(exc))
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or "-"
    where = "".join(traceback.format_tb(exc.__traceback__))
    return (
        f"{type(exc).__name__} ({type(orig).__name__}, SQLSTATE {state})\n"
        f"[SQL: {exc.statement}]\n{where}"
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Any:
        return error_response(exc.status, exc.code, exc.localized_message(), exc.details)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        if exc.code == 429 and exc.response is not None:
            return exc.response  # a page's own answer (its form kept), from ``on_breach``
        code, message, details = _http_details(exc)
        headers: Any = exc.get_response().headers
        if exc.code == 429 and "Retry-After" not in headers:
            headers = {**dict(headers), "Retry-After": "60"}
        return error_response(exc.code or 500, code, message, details, headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(RedisError)
    def _unavailable(exc: Exception) -> Any:
        """The database or Redis went away mid-request (restart, failover, a killed
        connection): the transaction is rolled back whole, and the client may retry."""
        db.session.rollback()
        log.warning("%s on %s %s", type(exc).__name__, request.method, request.path)
        code, message = HTTP_CODES[503]
        return error_response(503, code, str(message), headers={"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.error("unhandled error on %s %s: %s", request.method, request.path, describe(exc))
        code, message = HTTP_CODES[500]
        return error_response(500, code, str(message))
