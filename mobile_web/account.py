"""Account pages for every role: the codes sent by text message (registration, password
reset, a new number), the password (change, reset) and signing out everywhere."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from backend.accounts import phone_codes, services, sms
from backend.accounts.models import CodePurpose
from backend.accounts.sessions import sessions_of
from backend.auth import page_roles, renew_session, sign_out
from backend.errors import DomainError
from backend.extensions import limiter

from . import bp
from .forms import PasswordChangeForm, PasswordResetForm, PhoneChangeForm, PhoneForm

signed_in = page_roles()

# The number a code was last sent to, per purpose: kept in the (signed) session, never in a
# URL, so it stays out of access logs.
PENDING_PHONE = {
    "register": "pending_phone_register",
    "reset": "pending_phone_reset",
    "change_phone": "pending_phone_change",
}
# Where each purpose's second step is.
NEXT_STEP = {
    "register": "mobile.register",
    "reset": "mobile.password_reset",
    "change_phone": "mobile.account_security",
}


def _login_limit() -> str:
    return str(current_app.config["RATELIMIT_LOGIN"])


def _code_limit() -> str:
    return str(current_app.config["RATELIMIT_PHONE_CODE"])


def _show_development_code(phone: str) -> None:
    """Development only (the console backend): show the text message on the page, since no
    phone receives it. Never in production (the console backend refuses to send there)."""
    config = current_app.config
    if config["SMS_BACKEND"] != "console" or config["APP_ENV"] == "production":
        return
    sent = [message for message in sms.outbox() if message.phone == phone]
    if sent:
        flash(_("Development only, the text message sent: %(text)s", text=sent[-1].text), "dev-sms")


@bp.post("/codes/<any(register, reset):purpose>")
@limiter.limit(_code_limit)
def send_code(purpose: str) -> Any:
    """Step one of registration or a password reset: send a code to the number. The answer
    is the same whatever the number's state."""
    form = PhoneForm()
    if not form.validate_on_submit():
        return redirect(url_for(NEXT_STEP[purpose]))
    try:
        phone = phone_codes.request_code(form.phone.data, purpose)
    except DomainError as exc:
        template = "mobile/register.html" if purpose == "register" else "mobile/password_reset.html"
        page = render_template(
            template,
            form=form,
            errors={exc.field or "form": exc.localized_message()},
            step=1,
        )
        return page, exc.status
    session[PENDING_PHONE[purpose]] = phone
    flash(_("A code is on its way by text message. It works for a few minutes."), "success")
    _show_development_code(phone)
    return redirect(url_for(NEXT_STEP[purpose]))


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def password_reset() -> Any:
    """A forgotten password: a code sent to the number, then a new password."""
    form = PasswordResetForm()
    errors: dict[str, str] = {}
    pending = session.get(PENDING_PHONE["reset"])
    if form.validate_on_submit():
        try:
            phone_codes.reset_password(form.phone.data, form.code.data, form.new_password.data)
        except DomainError as exc:
            errors[exc.field or "form"] = exc.localized_message()
        else:
            session.pop(PENDING_PHONE["reset"], None)
            flash(_("Password changed. Sign in with the new password."), "success")
            return redirect(url_for("mobile.login"))
    elif pending and not form.phone.data:
        form.phone.data = pending
    step = 2 if pending or errors else 1
    page = render_template("mobile/password_reset.html", form=form, errors=errors, step=step)
    return page, 422 if errors else 200


def _security_page(errors: dict[str, str] | None = None, **forms: Any) -> Any:
    phone_form = forms.get("phone_form") or PhoneChangeForm()
    pending = session.get(PENDING_PHONE["change_phone"])
    if pending and not phone_form.phone.data:
        phone_form.phone.data = pending
    page = render_template(
        "mobile/account_security.html",
        form=forms.get("form") or PasswordChangeForm(),
        phone_form=phone_form,
        phone_step=2 if pending else 1,
        errors=errors or {},
        sessions=sessions_of(current_user),
    )
    return page, 422 if errors else 200


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
    return _security_page(errors, form=form)


@bp.post("/account/phone/code")
@signed_in
@limiter.limit(_code_limit)
def new_phone_code() -> Any:
    form = PhoneChangeForm()
    if form.validate_on_submit():
        try:
            phone = phone_codes.request_code(form.phone.data, CodePurpose.CHANGE_PHONE)
        except DomainError as exc:
            return _security_page({exc.field or "form": exc.localized_message()}, phone_form=form)
        session[PENDING_PHONE["change_phone"]] = phone
        flash(_("A code is on its way by text message. It works for a few minutes."), "success")
        _show_development_code(phone)
    return redirect(url_for("mobile.account_security"))


@bp.post("/account/phone")
@signed_in
@limiter.limit(_login_limit)
def change_phone() -> Any:
    form = PhoneChangeForm()
    if form.validate_on_submit():
        try:
            phone_codes.change_phone(
                current_user, form.phone.data, form.code.data, form.password.data
            )
        except DomainError as exc:
            return _security_page({exc.field or "form": exc.localized_message()}, phone_form=form)
        session.pop(PENDING_PHONE["change_phone"], None)
        flash(_("Your mobile number was changed."), "success")
    return redirect(url_for("mobile.account_security"))


@bp.post("/account/sign-out-everywhere")
@signed_in
def sign_out_everywhere() -> Any:
    services.sign_out_everywhere(current_user)
    sign_out()
    flash(_("You were signed out on every device."), "success")
    return redirect(url_for("mobile.login"))
