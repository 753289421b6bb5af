"""``flask notifications vapid-keys`` and ``flask notifications push``."""

from __future__ import annotations

import base64

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask.cli import AppGroup

from .services import deliver_pushes, notify_expiring_points

notifications_cli = AppGroup("notifications", help="Notifications and Web Push.")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@notifications_cli.command("vapid-keys")
def vapid_keys_command() -> None:
    """Print a new VAPID key pair for the environment (base64url raw keys)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    click.echo(f"VAPID_PRIVATE_KEY={_b64(key.private_numbers().private_value.to_bytes(32, 'big'))}")
    click.echo(f"VAPID_PUBLIC_KEY={_b64(public)}")


@notifications_cli.command("push")
def push_command() -> None:
    """Send the pending pushes now (the periodic job does it every minute)."""
    click.echo(f"sent: {deliver_pushes()}")


@notifications_cli.command("expiring")
def expiring_command() -> None:
    """Tell residents about points expiring within 30 days (once per date)."""
    click.echo(f"notified: {notify_expiring_points()}")
