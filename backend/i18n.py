"""Language selection: zh_CN first, English on request.

Pages follow the language the user chose (``?lang=`` sets a persistent cookie); API
requests follow ``Accept-Language``. Either way the default is zh_CN.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import get_locale

import methodologies

COOKIE = "lang"
ONE_YEAR = 365 * 24 * 3600


def _normalise(value: str | None) -> str | None:
    if not value:
        return None
    value = value.replace("-", "_")
    if value.lower().startswith("en"):
        return "en"
    if value.lower().startswith("zh"):
        return "zh_CN"
    return None


def select_locale() -> str:
    if not has_request_context():  # CLI and jobs speak the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = _normalise(request.args.get("lang"))
    if chosen:
        g.set_lang_cookie = chosen
        return chosen
    if not request.path.startswith("/api/"):
        cookie = _normalise(request.cookies.get(COOKIE))
        if cookie:
            return cookie
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"], default="zh_CN")
    return _normalise(best) or "zh_CN"


def init_app(app: Flask) -> None:
    @app.after_request
    def _persist_choice(response: Response) -> Response:
        chosen = g.get("set_lang_cookie")
        if chosen and not request.path.startswith("/api/"):
            response.set_cookie(
                COOKIE,
                chosen,
                max_age=ONE_YEAR,
                samesite="Lax",
                secure=app.config["SESSION_COOKIE_SECURE"],
                httponly=True,
            )
        return response


def current_lang() -> str:
    """ "en" or "zh_CN": the language of the current request (for zh/en data fields)."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


def action_name(code: str) -> str:
    """The name of a methodology (an action type) in the request's language."""
    try:
        return methodologies.registry.get_class(code).name.get(current_lang())
    except KeyError:
        return code
