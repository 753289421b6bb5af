"""Language selection: zh_CN first, English on request.

Pages follow the language the user chose (``?lang=`` sets a persistent cookie); API
requests follow ``Accept-Language``. Either way the default is zh_CN.
"""

from __future__ import annotations

from functools import cache

from babel import Locale
from flask import Flask, Response, current_app, g, has_request_context, request
from flask_babel import get_locale, gettext
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

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


@cache
def _locale(name: str) -> Locale:
    """The parsed locale, once per process: ``Locale.parse("zh_CN")`` searches babel's ~1,000
    locale names for one that is not a file (zh_CN is zh_Hans_CN), ~0.17 ms of CPU that
    flask-babel would otherwise spend on every request."""
    return Locale.parse(name)


def select_locale() -> Locale:
    return _locale(_select())


def _select() -> str:
    if not has_request_context():  # CLI and jobs speak the default language
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = _normalise(request.args.get("lang"))
    if chosen:
        g.set_lang_cookie = chosen
        return chosen
    return unchosen(
        request.path,
        request.cookies.get(COOKIE),
        request.headers.get("Accept-Language"),
        str(current_app.config["BABEL_DEFAULT_LOCALE"]),
    )


def unchosen(path: str, cookie: str | None, accept_language: str | None, default: str) -> str:
    """The locale of a request without ``?lang=``: a page's from the language cookie, the
    API's from ``Accept-Language`` (Flask's selector and ``backend.revalidate`` alike)."""
    if not path.startswith("/api/"):
        return _normalise(cookie) or default
    accepted = parse_accept_header(accept_language, LanguageAccept)
    return _normalise(accepted.best_match(["zh_CN", "zh", "en"], default="zh_CN")) or "zh_CN"


def lang_of(locale: str) -> str:
    """ "en" or "zh_CN" for a locale's name (what ``current_lang`` gives in its request)."""
    return "en" if _locale(locale).language == "en" else "zh_CN"


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


def cite(document: str) -> str:
    """A factor source's document as people cite it, in the request's language: our own
    proposed defaults are stored under one bilingual name, shown in one language here."""
    if document == methodologies.base.PROGRAMME_PROPOSAL:
        return str(gettext("Quzhou programme proposal (no published value)"))
    return document
