"""Admin console: sign-in (administrators only) and the dashboard."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, url_for
from flask_login import current_user, login_user, logout_user

from backend.accounts import services
from backend.accounts.models import Role
from backend.admin_console import queries
from backend.auth import page_roles
from backend.errors import DomainError
from backend.extensions import limiter
from mobile_web.forms import LoginForm

from . import bp

admin_only = page_roles(Role.ADMIN, login_endpoint="admin.login")


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


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
            login_user(user)
            return redirect(url_for("admin.dashboard"))
    return render_template("admin/login.html", form=form, error=error)


@bp.post("/logout")
def logout() -> Any:
    logout_user()
    return redirect(url_for("admin.login"))


@bp.get("/")
@admin_only
def dashboard() -> Any:
    return render_template(
        "admin/dashboard.html", user=current_user, counts=queries.programme_counts()
    )
