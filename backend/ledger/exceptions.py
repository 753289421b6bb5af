from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    status = 409
    message = _l("Not enough points: %(needed)s needed, %(available)s available.")


class UnbalancedEntry(DomainError):
    code = "unbalanced_entry"
    status = 500
    message = _l("Internal error: a ledger entry must sum to zero.")


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    message = _l("This Idempotency-Key was already used for a different request.")


class InvalidAmount(DomainError):
    code = "invalid_amount"
    status = 422
    message = _l("Points must be a positive whole number.")
