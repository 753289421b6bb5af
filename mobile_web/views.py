"""Mobile pages: sign-in, registration and each role's home."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from backend.accounts import services
from backend.accounts.models import Role
from backend.auth import home_url, page_roles
from backend.errors import DomainError
from backend.extensions import limiter
from backend.methodology_versions import queries as methodology_queries
from backend.methodology_versions import services as methodology_services
from methodologies import available as methodology_available

from . import bp
from .forms import LoginForm, RegisterForm


def _safe_next(default: str) -> str:
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


def _register_limit() -> str:
    return str(current_app.config["RATELIMIT_REGISTER"])


@bp.get("/")
def index() -> Any:
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return render_template("mobile/index.html")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.phone.data, form.password.data)
        except DomainError as exc:
            error = exc.localized_message()
        else:
            login_user(user)
            return redirect(_safe_next(home_url(user)))
    return render_template("mobile/login.html", form=form, error=error)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register() -> Any:
    form = RegisterForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            user = services.register_resident(
                form.phone.data, form.password.data, form.district.data, form.nickname.data
            )
        except DomainError as exc:
            errors[exc.field or "form"] = exc.localized_message()
        else:
            login_user(user)
            flash(_("Welcome! Your carbon account is ready."), "success")
            return redirect(url_for("mobile.home"))
    status = 422 if errors else 200
    return render_template("mobile/register.html", form=form, errors=errors), status


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    return redirect(url_for("mobile.index"))


@bp.get("/home")
@page_roles(Role.RESIDENT)
def home() -> Any:
    from backend.actions.queries import actions_of, totals_of
    from backend.ledger.expiry import upcoming_expiries
    from backend.ledger.queries import resident_balance

    grams, _earned = totals_of(current_user.id)
    return render_template(
        "mobile/home.html",
        grams=grams,
        balance=resident_balance(current_user.id),
        recent=actions_of(current_user.id, 5),
        expiring=upcoming_expiries(current_user.id)[:1],
    )


@bp.get("/methodologies")
def methodologies() -> Any:
    """How it works: every methodology in force, in plain language, with its sources."""
    return render_template(
        "mobile/methodologies.html",
        rows=methodology_queries.overview(),
        classes={
            code: methodology_services.methodology_class(code) for code in methodology_available()
        },
    )


@bp.get("/methodologies/<code>")
def methodology(code: str) -> Any:
    cls = methodology_services.methodology_class(code)
    return render_template(
        "mobile/methodology.html",
        cls=cls,
        code=code,
        version=methodology_queries.in_force_or_none(code),
    )
