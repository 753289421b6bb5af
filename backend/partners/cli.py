"""``flask partners create|rotate``: onboarding and key rotation from the shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..errors import DomainError
from .models import PartnerKind
from .services import create_partner, rotate_partner_key

partners_cli = AppGroup("partners", help="Partner API clients.")


@partners_cli.command("create")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice([k.value for k in PartnerKind]), required=True)
def create(code: str, name: str, kind: str) -> None:
    """Onboard a partner and print its key id and secret (shown only once)."""
    try:
        partner, key_id, secret = create_partner(code, name, kind)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.localized_message()}") from exc
    click.echo(f"partner {partner.code} created")
    click.echo(f"key_id: {key_id}")
    click.echo(f"secret: {secret}")
    click.echo("Store the secret now: it cannot be shown again.")


@partners_cli.command("rotate")
@click.argument("code")
def rotate(code: str) -> None:
    """Issue a new key; the previous keys stay valid for 24 hours."""
    try:
        key_id, secret = rotate_partner_key(code)
    except DomainError as exc:
        raise click.ClickException(f"{exc.code}: {exc.localized_message()}") from exc
    click.echo(f"key_id: {key_id}")
    click.echo(f"secret: {secret}")
    click.echo("Previous keys expire in 24 hours.")
