"""HTTP security headers for every response.

* Content-Security-Policy without 'unsafe-inline': scripts and styles come from our own
  files (inline SVG charts are cleaned of scripts and styles by ``backend.charts``). The API
  docs page (Swagger UI sets style attributes) is the one page allowed inline styles.
* frame-ancestors 'none' (and X-Frame-Options) against clickjacking; HSTS only when the
  request arrived over TLS (behind the load balancer, via X-Forwarded-Proto and ProxyFix).
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

DOCS_PREFIX = "/api/v1/docs"


def _policy() -> str:
    style = "'self'"
    if request.path.startswith(DOCS_PREFIX):
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


def init_app(app: Flask) -> None:
    proxies = int(app.config.get("TRUSTED_PROXIES", 0))
    if proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app,
            x_for=proxies,
            x_proto=proxies,  # type: ignore[method-assign]
            x_host=proxies,
        )

    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", _policy())
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(), microphone=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
