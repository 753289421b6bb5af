"""Domain errors of merchants."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import DomainError


class InvalidMerchant(DomainError):
    code = "invalid_merchant"
    status = 422
    message = _l("Check the merchant: %(problem)s")
