from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import DomainError


class InvalidSubscription(DomainError):
    code = "invalid_push_subscription"
    status = 422
    message = _l("This browser's push subscription could not be read. Please try again.")


class PushNotConfigured(DomainError):
    code = "push_not_configured"
    status = 409
    message = _l("Push notifications are not available on this server.")
