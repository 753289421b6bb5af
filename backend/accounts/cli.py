"""``flask admins create`` and ``flask users create``: accounts made by operators."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..errors import DomainError
from .models import Role
from .services import create_user

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
