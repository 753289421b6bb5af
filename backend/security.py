"""HTTP security headers for every response.

* Content-Security-Policy without 'unsafe-inline': scripts and styles come from our own
  files (inline SVG charts are cleaned of scripts and styles by ``backend.charts``). The API
  docs page (Swagger UI sets style attributes) is the one page allowed inline styles.
* frame-ancestors 'none' (and X-Frame-Options) against clickjacking; HSTS only when the
  request arrived over TLS (behind the load balancer, via X-Forwarded-Proto and ProxyFix).
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Any

from flask import Flask, Response, current_app, g, request, session, url_for
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape_controls(text: str) -> str:
    """Control characters as visible escapes: a request path with ``%0a`` cannot start a
    forged line in the log."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def public_url(endpoint: str, **values: Any) -> str:
    """An absolute link for outside the site (a certificate's verify link and QR code):
    built on ``PUBLIC_BASE_URL``, never on the Host a request names. Without the setting
    (development, tests) Flask builds it from the request."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return str(base).rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, **values, _external=True)  # development and tests only


def install_log_escaping() -> None:
    """Every log record (whatever handler writes it) carries its formatted message with
    control characters escaped; tracebacks, added by the formatter, are untouched."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "escapes_controls", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a wrong format: logging reports it later
            return record
        escaped = escape_controls(message)
        if escaped != message:
            record.msg, record.args = escaped, None
        return record

    factory.escapes_controls = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


DOCS_PREFIX = "/api/v1/docs"


def _policy(docs: bool) -> str:
    style = "'self'"
    if docs:
        style += " 'unsafe-inline'"  # Swagger UI sets style attributes; developer page only
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {style}",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "manifest-src 'self'",
            "worker-src 'self'",
        ]
    )


@cache
def security_headers(secure: bool, docs: bool = False) -> tuple[tuple[str, str], ...]:
    """The headers every response carries unless it set its own (the policy built once per
    process, not per response): over TLS with HSTS, on the API docs with inline styles.
    ``backend.revalidate`` adds the same to its 304s."""
    headers = (
        ("Content-Security-Policy", _policy(docs)),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(self), geolocation=(), microphone=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    )
    if secure:
        headers += (("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),)
    return headers


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES", 0))
    if proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=proxies,
            x_proto=proxies,  # type: ignore[method-assign]
            x_host=proxies,
        )

    install_log_escaping()

    @app.before_request
    def _refuse_nul() -> None:
        """A NUL byte in the path or the query is never meaningful (and PostgreSQL refuses
        it in text): 400 before any view or query sees it."""
        if "\x00" in request.path or b"%00" in request.query_string.lower():
            raise BadRequest()

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Any:
        """JSON nested deeper than Python's parser recurses: malformed input, not a crash."""
        return app.handle_http_exception(BadRequest("The JSON is nested too deeply."))

    @app.after_request
    def _no_store_when_signed_in(response: Response) -> Response:
        """Pages of a signed-in session are private: no browser or proxy keeps them, but for
        the resident's own versioned pages (``backend.pagecache``: ``private, no-cache``, the
        browser's copy revalidated every time). Signing out clears the browser's copies."""
        if "_user_id" in session:
            response.headers.setdefault("Cache-Control", "no-store")
        if g.get("signed_out"):
            response.headers["Clear-Site-Data"] = '"cache"'
        return response

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        docs = request.path.startswith(DOCS_PREFIX)
        for name, value in security_headers(request.is_secure, docs):
            headers.setdefault(name, value)
        return response
