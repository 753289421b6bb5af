"""Sending text messages (one-time codes) through a small, replaceable interface.

A sender is anything with ``send(phone, text)``; ``sender()`` returns the configured one:

* ``SMS_BACKEND=console`` (development and tests): the message is printed to the console
  (the number masked) and kept in a short in-memory outbox, from which the development pages
  show the code. It refuses to send when ``APP_ENV`` is ``production``.
* ``SMS_BACKEND=http`` (production): a JSON POST to the provider's HTTP API::

      POST $SMS_API_URL
      Authorization: Bearer $SMS_API_KEY
      Content-Type: application/json
      {"to": "13812345678", "text": "...", "sign_name": "$SMS_SIGN_NAME"}

  Any 2xx answer is a success; anything else, or no answer within ``SMS_TIMEOUT_SECONDS``,
  raises ``SmsUnavailable`` (503). Most Chinese providers (Aliyun, Tencent Cloud) are reached
  through a small gateway that speaks this shape, or by a subclass overriding ``payload``.

Neither backend logs the number in clear or the message text in production.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from flask import current_app
from flask_babel import lazy_gettext as _l

from ..errors import DomainError
from .models import mask_phone

OUTBOX_SIZE = 50


class SmsUnavailable(DomainError):
    code = "sms_unavailable"
    status = 503
    message = _l("Text messages cannot be sent right now. Please try again shortly.")


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Deliver ``text`` to the mainland mobile number ``phone`` (11 digits) or raise
        ``SmsUnavailable``."""


@dataclass
class SentMessage:
    phone: str
    text: str


class ConsoleSender:
    """Development and tests: print the message, keep it in the outbox; never in production."""

    def __init__(self, outbox: deque[SentMessage]) -> None:
        self.outbox = outbox

    def send(self, phone: str, text: str) -> None:
        if current_app.config.get("APP_ENV") == "production":
            current_app.logger.error("SMS_BACKEND=console refused in production")
            raise SmsUnavailable()
        self.outbox.append(SentMessage(phone, text))
        print(f"[sms to {mask_phone(phone)}] {text}", flush=True)  # noqa: T201 - its job


class HttpSender:
    """Production: the SMS provider's HTTP API, configured from the environment."""

    def __init__(self, url: str, api_key: str, sign_name: str, timeout: float) -> None:
        self.url, self.api_key, self.sign_name, self.timeout = url, api_key, sign_name, timeout

    def payload(self, phone: str, text: str) -> dict[str, Any]:
        return {"to": phone, "text": text, "sign_name": self.sign_name}

    def send(self, phone: str, text: str) -> None:
        if not self.url.startswith(("https://", "http://")):
            current_app.logger.error("SMS_API_URL is not set: no text message can be sent")
            raise SmsUnavailable()
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            self.url,
            data=json.dumps(self.payload(phone, text)).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.api_key}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:
            current_app.logger.warning("SMS provider unreachable (%s)", type(exc).__name__)
            raise SmsUnavailable() from None
        if not 200 <= status < 300:
            current_app.logger.warning("SMS provider answered %s", status)
            raise SmsUnavailable()


def outbox() -> deque[SentMessage]:
    """The console backend's recent messages (development pages and tests)."""
    box: deque[SentMessage] = current_app.extensions.setdefault(
        "sms_outbox", deque(maxlen=OUTBOX_SIZE)
    )
    return box


def sender() -> SmsSender:
    config = current_app.config
    if config["SMS_BACKEND"] == "console":
        return ConsoleSender(outbox())
    return HttpSender(
        str(config.get("SMS_API_URL") or ""),
        str(config.get("SMS_API_KEY") or ""),
        str(config.get("SMS_SIGN_NAME") or ""),
        float(config["SMS_TIMEOUT_SECONDS"]),
    )
