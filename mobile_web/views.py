"""Mobile pages: sign-in, registration and each role's home."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from backend.accounts import services
from backend.accounts.models import Role
from backend.actions.queries import actions_of, leaderboard, resident_summary
from backend.auth import home_url, page_roles
from backend.cache import cached
from backend.charts import bar_chart, line_chart
from backend.errors import DomainError
from backend.extensions import limiter
from backend.i18n import action_name, current_lang
from backend.ledger.expiry import upcoming_expiries
from backend.ledger.queries import resident_balance
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
    summary = resident_summary(current_user.id)
    # the charts are a pure function of their figures and the language: reused as they are
    charts = cached(
        (
            "home-charts",
            current_lang(),
            tuple(summary.breakdown.items()),
            tuple(summary.months),
            tuple(summary.trend),
        ),
        lambda: home_charts(summary),
    )
    return render_template(
        "mobile/home.html",
        s=summary,
        charts=charts,
        balance=resident_balance(current_user.id),
        recent=actions_of(current_user.id, 5),
        expiring=upcoming_expiries(current_user.id)[:2],
        board=cached(
            ("leaderboard", current_user.district, summary.months[-1]),
            lambda: leaderboard(current_user.district, summary.months[-1]),
        ),
    )


def home_charts(summary: Any) -> dict[str, Any]:
    """The two SVG charts of the resident home (breakdown and 12-month trend), in kg."""
    charts: dict[str, Any] = {}
    if summary.breakdown:
        names = [action_name(code) for code in summary.breakdown]
        kilos = [grams / 1000 for grams in summary.breakdown.values()]
        charts["breakdown"] = bar_chart(
            names,
            kilos,
            horizontal=True,
            element_id="breakdown",
            height=60 + 40 * len(names),
            title=_("Reductions by action (kg CO2e)"),
            description=", ".join(f"{n}: {k:.2f} kg" for n, k in zip(names, kilos, strict=True)),
        )
    if any(summary.trend):
        labels = [m[2:] for m in summary.months]
        charts["trend"] = line_chart(
            labels,
            {_("kg CO2e"): [g / 1000 for g in summary.trend]},
            element_id="trend",
            title=_("The last 12 months (kg CO2e)"),
            description=", ".join(
                f"{m}: {g / 1000:.2f} kg"
                for m, g in zip(summary.months, summary.trend, strict=True)
            ),
        )
    return charts


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
    methodology_services.methodology_class(code)
    version = methodology_queries.in_force_or_none(code)
    # the module the version in force was approved with: its parameters' sources and rules
    cls = (
        methodology_services.version_class(version)
        if version
        else methodology_services.methodology_class(code)
    )
    return render_template("mobile/methodology.html", cls=cls, code=code, version=version)
