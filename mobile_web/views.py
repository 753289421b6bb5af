"""Mobile pages: sign-in, registration and each role's home."""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_limiter import RequestLimit
from flask_login import current_user

from backend import pagecache
from backend.accounts import phone_codes, services
from backend.accounts.models import Role
from backend.actions.queries import actions_of, leaderboard, resident_summary
from backend.auth import home_url, page_roles, sign_in, sign_out
from backend.cache import cached
from backend.charts import bar_chart, line_chart
from backend.errors import DomainError
from backend.extensions import limiter
from backend.i18n import action_name, current_lang
from backend.ledger.expiry import upcoming_expiries
from backend.ledger.queries import resident_balance
from backend.methodology_versions import queries as methodology_queries
from backend.methodology_versions import services as methodology_services
from backend.notices.queries import notices_of
from backend.ratelimit import counts_as_attempt, input_rejected, limit_setting
from methodologies import available as methodology_available

from . import bp
from .account import PENDING_PHONE
from .engagement import engagement
from .forms import LoginForm, RegisterForm


def _safe_next(default: str) -> str:
    target = request.args.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


_login_limit = limit_setting("RATELIMIT_LOGIN")


_register_limit = limit_setting("RATELIMIT_REGISTER")


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
            sign_in(user)
            return redirect(_safe_next(home_url(user)))
    return render_template("mobile/login.html", form=form, error=error)


def _register_breached(limit: RequestLimit) -> Response:
    """Too many tries: the form comes back with what was typed (not the password) and how
    long to wait, instead of a bare error page."""
    wait = min(max(1, math.ceil(limit.reset_at - time.time())), limit.limit.get_expiry())
    message = " ".join(
        (
            _("Too many requests. Please wait a moment and try again."),
            _("You can send the form again in %(seconds)s seconds.", seconds=wait),
        )
    )
    page = render_template(
        "mobile/register.html",
        form=RegisterForm(),
        errors={"form": message},
        error_code="rate_limited",
        step=2,
    )
    return Response(page, 429, headers={"Retry-After": str(wait)})


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(
    _register_limit,
    methods=["POST"],
    deduct_when=counts_as_attempt,
    on_breach=_register_breached,
)
def register() -> Any:
    """Registration in two steps: the number (a code is sent to it), then the code with the
    rest of the form (``mobile_web.account.send_code`` keeps the number in the session)."""
    form = RegisterForm()
    errors: dict[str, str] = {}
    pending = session.get(PENDING_PHONE["register"])
    problems = (
        phone_codes.registration_problems(
            form.phone.data, form.code.data, form.password.data, form.nickname.data
        )
        if form.is_submitted()
        else {}
    )
    if problems:
        # every field to fix, each on its field at once; not an abuse attempt
        errors = {name: exc.localized_message() for name, exc in problems.items()}
        input_rejected()
    elif form.validate_on_submit():
        try:
            user = phone_codes.register_with_code(
                form.phone.data,
                form.code.data,
                form.password.data,
                form.district.data,
                form.nickname.data,
            )
        except DomainError as exc:
            errors[exc.field or "form"] = exc.localized_message()
            if exc.field == "password":  # the password rules: a field to fix, not a guess
                input_rejected()
        else:
            sign_in(user)
            flash(_("Welcome! Your carbon account is ready."), "success")
            return redirect(url_for("mobile.home"))
    elif pending and not form.phone.data:
        form.phone.data = pending
    status = 422 if errors else 200
    step = 2 if pending or request.method == "POST" else 1
    page = render_template("mobile/register.html", form=form, errors=errors, step=step)
    return page, status


@bp.post("/logout")
def logout() -> Any:
    sign_out()
    return redirect(url_for("mobile.index"))


@bp.get("/more")
@page_roles(Role.RESIDENT)
def more() -> Any:
    """Everything beyond the five tabs: points, vouchers, the forest, data sources, privacy."""
    return render_template("mobile/more.html")


@bp.get("/home")
@page_roles(Role.RESIDENT)
def home() -> Any:
    """Served again from the page cache while nothing the page shows has changed."""
    user_id = current_user.id
    return pagecache.serve(
        "home",
        user_id,
        pagecache.home_version(user_id),
        lambda: render_template("mobile/home.html", **home_context()).encode(),
        "text/html",
        pagecache.shared_bucket(),
    )


def home_context() -> dict[str, Any]:
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
    return dict(
        s=summary,
        charts=charts,
        balance=resident_balance(current_user.id),
        recent=actions_of(current_user.id, 5),
        expiring=upcoming_expiries(current_user.id)[:2],
        notices=notices_of(current_user.id, limit=3),
        board=cached(
            ("leaderboard", current_user.district, summary.months[-1]),
            lambda: leaderboard(current_user.district, summary.months[-1]),
        ),
        **engagement(current_user.id, summary.grams),
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
