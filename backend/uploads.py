"""Image uploads (offer pictures, evidence photos): checked, re-encoded, stored outside the
web root under ``UPLOAD_DIR`` and served only through views that check who may see them."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from .errors import DomainError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_SIDE = 1600


class InvalidImage(DomainError):
    code = "invalid_image"
    status = 422
    message = _l("Upload a JPEG, PNG or WebP photo of at most %(mb)s MB.")


class ImageTooLarge(DomainError):
    code = "image_too_large"
    status = 422
    message = _l("This photo has too many pixels. Upload one of at most %(mp)s megapixels.")


def _root() -> Path:
    root = Path(current_app.config["UPLOAD_DIR"])
    root.mkdir(parents=True, exist_ok=True)
    return root


def read_image(upload: Any) -> tuple[bytes, str]:
    """Validate an uploaded image; returns (re-encoded JPEG bytes, sha256 of the original)."""
    limit = current_app.config["MAX_IMAGE_BYTES"]
    mb = limit // (1024 * 1024)
    data = upload.read(limit + 1) if upload else b""
    if not data or len(data) > limit:
        raise InvalidImage(mb=mb)
    try:
        image = open_image(data)
        if image.format not in ALLOWED_FORMATS:
            raise InvalidImage(mb=mb)
        image.load()
    except (UnidentifiedImageError, OSError):
        raise InvalidImage(mb=mb) from None
    image = image.convert("RGB")  # drops EXIF (location) and any alpha
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=82)
    return out.getvalue(), hashlib.sha256(data).hexdigest()


def open_image(data: bytes) -> Image.Image:
    """The image in ``data``, its header read but not decoded (``load()`` decodes it), or
    ``ImageTooLarge`` when it declares more than ``MAX_IMAGE_PIXELS``: a few kilobytes of PNG
    can declare 20000 x 20000 pixels, and decoding them would take gigabytes of memory."""
    limit = current_app.config["MAX_IMAGE_PIXELS"]
    too_large = ImageTooLarge(mp=limit // 1_000_000)
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:  # Pillow's own limit (~179 M pixels), far above ours
        raise too_large from None
    if image.width * image.height > limit:
        raise too_large
    return image


def store_image(upload: Any, folder: str) -> tuple[str, str]:
    """Save a validated image; returns (relative path, sha256 of the uploaded bytes)."""
    data, digest = read_image(upload)
    return save_image(data, folder), digest


def save_image(data: bytes, folder: str) -> str:
    """Write re-encoded image bytes (from ``read_image``); returns the relative path."""
    relative = f"{folder}/{uuid.uuid4().hex}.jpg"
    path = _root() / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


def image_path(relative: str) -> Path:
    path = (_root() / relative).resolve()
    if _root().resolve() not in path.parents:
        raise FileNotFoundError(relative)
    return path
