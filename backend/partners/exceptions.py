from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError


class InvalidSignature(DomainError):
    code = "invalid_signature"
    status = 401
    message = _l("The request signature is missing or does not match.")


class StaleTimestamp(DomainError):
    code = "stale_timestamp"
    status = 401
    message = _l("The request timestamp is missing or more than 5 minutes off the server clock.")


class ReplayedRequest(DomainError):
    code = "replayed_request"
    status = 401
    message = _l("This signed request was already received; sign each request anew.")


class PartnerExists(Conflict):
    code = "partner_exists"
    message = _l("A partner with this code already exists.")


class UnknownPartner(DomainError):
    code = "unknown_partner"
    status = 404
    message = _l("No partner has this code.")


class InvalidPartner(DomainError):
    code = "invalid_partner"
    status = 422
    message = _l(
        "Partner code must be 2-40 letters, digits, '-' or '_', with a name and a known kind."
    )
