"""Account security, for every role: change the password, sign out everywhere."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts import services
from backend.accounts.sessions import sessions_of
from backend.auth import page_roles, renew_session, sign_out
from backend.errors import DomainError
from backend.extensions import limiter

from . import bp
from .forms import PasswordChangeForm

signed_in = page_roles()


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


@bp.route("/account/security", methods=["GET", "POST"])
@signed_in
@limiter.limit(_login_limit, methods=["POST"])
def account_security() -> Any:
    form = PasswordChangeForm()
    errors: dict[str, str] = {}
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user,
                form.current_password.data,
                form.new_password.data,
            )
        except DomainError as exc:
            errors[exc.field or "form"] = exc.localized_message()
        else:
            renew_session(current_user)  # every session ended, this browser's carries on anew
            flash(_("Password changed. Every other session was signed out."), "success")
            return redirect(url_for("mobile.account_security"))
    page = render_template(
        "mobile/account_security.html",
        form=form,
        errors=errors,
        sessions=sessions_of(current_user),
    )
    return page, 422 if errors else 200


@bp.post("/account/sign-out-everywhere")
@signed_in
def sign_out_everywhere() -> Any:
    services.sign_out_everywhere(current_user)
    sign_out()
    flash(_("You were signed out on every device."), "success")
    return redirect(url_for("mobile.login"))
