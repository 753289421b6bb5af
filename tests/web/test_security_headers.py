from __future__ import annotations

from backend.app import create_app


def test_pages_have_a_strict_content_security_policy(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # plain http: no HSTS


def test_hsts_only_over_tls(client):
    response = client.get("/login", base_url="https://carbon.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_api_responses_carry_the_headers_too(client):
    response = client.get("/api/v1/methodologies")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_no_inline_scripts_or_style_attributes_in_templates():
    """CSP without 'unsafe-inline' only works if the templates never need it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in root.glob("**/templates/**/*.html"):
        if ".venv" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if (
            re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
            or re.search(r"\sstyle=\"", text)
            or re.search(r"\son[a-z]+=\"", text)
        ):
            offenders.append(str(path.relative_to(root)))
    # print templates are rendered by WeasyPrint, not served to browsers
    offenders = [o for o in offenders if "/reports/" not in o]
    assert not offenders, offenders


def test_cookies_are_secure_httponly_samesite(database_uri):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "SESSION_COOKIE_SECURE": True,
            "WTF_CSRF_ENABLED": True,
        }
    )
    client = app.test_client()
    response = client.get("/login?lang=en", base_url="https://carbon.example")
    cookies = response.headers.getlist("Set-Cookie")
    assert {c.split("=")[0] for c in cookies} == {"session", "lang"}
    for cookie in cookies:
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
