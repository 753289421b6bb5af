"""Admin console: sign-in (administrators only, password then a second factor)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from backend.accounts import services, two_factor
from backend.accounts.exceptions import AccountLocked
from backend.accounts.models import Role
from backend.accounts.throttle import recent_alerts
from backend.audit import words as audit_words
from backend.auth import mark_second_factor, page_roles, second_factor_done, sign_in, sign_out
from backend.errors import DomainError, Forbidden
from backend.extensions import limiter
from backend.qr import qr_svg
from backend.ratelimit import limit_setting
from mobile_web.forms import LoginForm

from . import bp
from .forms import CodeForm

# Every admin page: an administrator who has completed the second factor (see backend.auth).
admin_only = page_roles(Role.ADMIN, login_endpoint="admin.login")

NO_STORE = {"Cache-Control": "no-store"}


_login_limit = limit_setting("RATELIMIT_LOGIN")


def _safe_next() -> str | None:
    target = request.args.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return None


def _second_step() -> Any:
    """Where a half-signed-in administrator goes next (keeping ``next``)."""
    endpoint = "admin.two_factor" if two_factor.has_totp(current_user) else "admin.two_factor_setup"
    return redirect(url_for(endpoint, next=_safe_next()))


def _done() -> Any:
    return redirect(_safe_next() or url_for("admin.dashboard"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Any:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.phone.data, form.password.data, roles=(Role.ADMIN,))
        except DomainError as exc:
            error = exc.localized_message()
        else:
            sign_in(user)  # half signed in: the second factor comes next
            return _second_step()
    return render_template("admin/login.html", form=form, error=error)


@bp.post("/logout")
def logout() -> Any:
    sign_out()
    return redirect(url_for("admin.login"))


def _half_signed_in() -> Any:
    """None when the current user is an administrator at the second step, else a response."""
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login"))
    if current_user.role is not Role.ADMIN:
        raise Forbidden()
    if second_factor_done(current_user):
        return _done()
    return None


def _locked_out(exc: DomainError) -> Any:
    """Too many wrong codes: the half session ends and the administrator starts again."""
    sign_out()
    flash(exc.localized_message(), "error")
    return redirect(url_for("admin.login"))


@bp.route("/2fa", methods=["GET", "POST"], endpoint="two_factor")
@limiter.limit(_login_limit, methods=["POST"])
def two_factor_step() -> Any:
    """The second step: a code from the authenticator app, or a recovery code."""
    elsewhere = _half_signed_in()
    if elsewhere is not None:
        return elsewhere
    if not two_factor.has_totp(current_user):
        return _second_step()
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            used = two_factor.verify(current_user, form.code.data)
        except AccountLocked as exc:
            return _locked_out(exc)
        except DomainError as exc:
            error = exc.localized_message()
        else:
            mark_second_factor(current_user)
            if used == "recovery":
                flash(
                    _(
                        "Recovery code accepted. %(n)s recovery codes are left.",
                        n=two_factor.recovery_codes_left(current_user),
                    ),
                    "warning",
                )
            return _done()
    status = 401 if error else 200
    return render_template("admin/two_factor.html", form=form, error=error), status, NO_STORE


@bp.route("/2fa/setup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def two_factor_setup() -> Any:
    """First sign-in: scan the secret, confirm it with a code, write down the recovery codes."""
    elsewhere = _half_signed_in()
    if elsewhere is not None:
        return elsewhere
    if two_factor.has_totp(current_user):
        return _second_step()
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_setup(current_user, form.code.data)
        except AccountLocked as exc:
            return _locked_out(exc)
        except DomainError as exc:
            error = exc.localized_message()
        else:
            mark_second_factor(current_user)
            page = render_template("admin/recovery_codes.html", codes=codes, next_url=_safe_next())
            return page, 200, NO_STORE
    secret = two_factor.pending_secret(current_user)
    uri = two_factor.provisioning_uri(current_user, secret)
    page = render_template(
        "admin/two_factor_setup.html",
        form=form,
        error=error,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        qr=Markup(qr_svg(uri)),  # noqa: S704 - generated by qrcode from our own URI
        issuer=two_factor.ISSUER,
    )
    return page, 401 if error else 200, NO_STORE


@bp.context_processor
def _signed_in() -> dict[str, Any]:
    """``admin_signed_in``: show the console's navigation only after both steps;
    ``security_alerts``: sign-in bursts of the last 24 hours, shown on every page."""
    signed_in = (
        current_user.is_authenticated
        and current_user.role is Role.ADMIN
        and second_factor_done(current_user)
    )
    return {
        "admin_signed_in": signed_in,
        "security_alerts": recent_alerts() if signed_in else 0,
        **audit_words.template_helpers(),
    }
