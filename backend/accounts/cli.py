"""``flask admins create`` and ``flask users create``: accounts made by operators."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..errors import DomainError
from ..extensions import db
from . import two_factor
from .models import Role, User
from .services import create_user, normalise_phone

admins_cli = AppGroup("admins", help="Administrator accounts (only created here).")
users_cli = AppGroup("users", help="Merchant staff and organiser accounts.")


def _create(
    role: Role, phone: str, password: str, merchant_id: int | None, nickname: str | None
) -> None:
    try:
        user = create_user(role, phone, password, merchant_id=merchant_id, nickname=nickname)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.localized_message()}") from exc
    click.echo(f"created {role.value} #{user.id} ({user.masked_phone})")


@admins_cli.command("create")
@click.argument("phone")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--nickname", default=None)
def create_admin(phone: str, password: str, nickname: str | None) -> None:
    """Create an administrator."""
    _create(Role.ADMIN, phone, password, None, nickname)


def _admin(phone: str) -> User:
    try:
        phone = normalise_phone(phone)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.localized_message()}") from exc
    user = db.session.scalar(select(User).where(User.phone == phone, User.role == Role.ADMIN))
    if user is None:
        raise click.ClickException("no administrator with this mobile number")
    return user


@admins_cli.command("totp-code")
@click.argument("phone")
def totp_code(phone: str) -> None:
    """Print an administrator's current TOTP code (development only, for the demo admins)."""
    if current_app.config["APP_ENV"] == "production":
        raise click.ClickException("refusing to print second-factor codes in production")
    user = _admin(phone)
    try:
        code = two_factor.current_code(user)
    except DomainError as exc:
        raise click.ClickException("this administrator has not set up TOTP yet") from exc
    click.echo(code)


@admins_cli.command("reset-2fa")
@click.argument("phone")
@click.confirmation_option(prompt="Forget this administrator's authenticator and recovery codes?")
def reset_2fa(phone: str) -> None:
    """Forget an administrator's TOTP secret and recovery codes (a lost phone): they set it
    up again at their next sign-in, and their sessions and tokens end."""
    user = _admin(phone)
    two_factor.reset(None, user)
    click.echo(f"second factor reset for administrator #{user.id} ({user.masked_phone})")


@users_cli.command("create")
@click.argument("phone")
@click.option(
    "--role", type=click.Choice([Role.MERCHANT_STAFF.value, Role.ORGANISER.value]), required=True
)
@click.option("--merchant-id", type=int, default=None, help="required for merchant staff")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--nickname", default=None)
def create_other(
    phone: str, role: str, merchant_id: int | None, password: str, nickname: str | None
) -> None:
    """Create a merchant staff or organiser account."""
    _create(Role(role), phone, password, merchant_id, nickname)
