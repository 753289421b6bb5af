"""Keyed hashes and symmetric encryption with the server's IDENTITY_KEY.

* ``keyed_hash`` turns an external identity (transit card number, bike-share account) into
  a stable HMAC-SHA256 so the clear value is never stored.
* ``encrypt``/``decrypt`` protect partner signing secrets at rest (Fernet), because HMAC
  verification needs the secret itself, not a hash of it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from flask import current_app


def _key() -> bytes:
    return str(current_app.config["IDENTITY_KEY"]).encode()


def keyed_hash(value: str, *, purpose: str = "identity") -> str:
    message = f"{purpose}:{value.strip()}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    derived = hashlib.sha256(b"fernet:" + _key()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
