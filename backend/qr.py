"""Signed, expiring QR tokens and the QR images that carry them.

A token is ``itsdangerous``-signed JSON {s: subject, n: nonce} salted with its purpose
(``redeem``, ``claim``, ``card``), so a token made for one purpose never verifies as another.
Expiry is checked against the signing time; single use is enforced by the database (the
redemption's state change, or a unique nonce for claims), never by the client.
"""

from __future__ import annotations

import secrets
from typing import Any

import qrcode
import qrcode.image.svg
import zxingcpp
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from PIL import UnidentifiedImageError

from .errors import DomainError
from .uploads import open_image

PURPOSES = ("redeem", "claim", "card")
SHORT_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


class InvalidQr(DomainError):
    code = "invalid_qr"
    status = 422
    message = _l("This QR code is not valid here.")


class ExpiredQr(DomainError):
    code = "qr_expired"
    status = 422
    message = _l("This QR code has expired. Ask for a fresh one.")


class UnreadableImage(DomainError):
    code = "unreadable_image"
    status = 422
    message = _l("No QR code could be read from this photo. Try again or type the code.")


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    assert purpose in PURPOSES
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"qr:{purpose}")


def new_nonce() -> str:
    return secrets.token_hex(16)


def make_token(purpose: str, subject: Any, nonce: str) -> str:
    return str(_serializer(purpose).dumps({"s": subject, "n": nonce}))


def read_token(purpose: str, token: str, max_age: int) -> tuple[Any, str]:
    """(subject, nonce) of a valid token of this purpose, or InvalidQr / ExpiredQr."""
    try:
        data = _serializer(purpose).loads((token or "").strip(), max_age=max_age)
    except SignatureExpired:
        raise ExpiredQr() from None
    except BadSignature:
        raise InvalidQr() from None
    if not isinstance(data, dict) or "s" not in data or "n" not in data:
        raise InvalidQr()
    return data["s"], str(data["n"])


def token_purpose(token: str) -> str | None:
    """Which purpose a scanned token was signed for (its expiry is checked when it is read)."""
    for purpose in PURPOSES:
        try:
            _serializer(purpose).loads(token.strip())
        except SignatureExpired:
            return purpose
        except BadSignature:
            continue
        return purpose
    return None


def is_card_token(token: str) -> bool:
    """Whether a scanned token is a household card's (checked by signature, not trusted)."""
    return token_purpose(token) == "card"


def new_short_code(length: int = 8) -> str:
    return "".join(secrets.choice(SHORT_CODE_ALPHABET) for _ in range(length))


def normalise_short_code(raw: str | None) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def format_short_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def qr_svg(data: str) -> str:
    """An inline SVG of a QR code for ``data`` (no external requests, no scripts)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return str(svg)


def decode_image(data: bytes) -> str:
    """The text of the first QR code in a photo (decoded on the server with zxing-cpp)."""
    try:
        image = open_image(data)  # refuses more pixels than MAX_IMAGE_PIXELS before decoding
        image.load()
    except (UnidentifiedImageError, OSError):
        raise UnreadableImage() from None
    results = zxingcpp.read_barcodes(image.convert("RGB"))
    for result in results:
        if result.text:
            return str(result.text)
    raise UnreadableImage()
