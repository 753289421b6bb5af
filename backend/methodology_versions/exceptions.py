from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError, NotFound


class UnknownMethodology(NotFound):
    code = "unknown_methodology"
    message = _l("There is no methodology with this code.")


class UnknownVersion(NotFound):
    code = "unknown_version"
    message = _l("There is no such methodology version.")


class NoActiveVersion(Conflict):
    code = "no_active_methodology"
    message = _l("This methodology has no approved version in force.")


class InvalidParameters(DomainError):
    code = "invalid_parameters"
    status = 422
    message = _l("The parameter set cannot be used: %(problems)s")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = _l("A version in status '%(status)s' cannot be %(action)s.")


class FourEyesViolation(DomainError):
    code = "four_eyes_required"
    status = 403
    message = _l("A version must be approved by a different administrator than its proposer.")


class CommentRequired(DomainError):
    code = "comment_required"
    status = 422
    message = _l("Please give a reason.")


class EffectiveDateInPast(DomainError):
    code = "effective_date_in_past"
    status = 422
    message = _l("A version can take effect now or later, never in the past.")


class RetireActiveVersion(Conflict):
    code = "retire_active_version"
    message = _l("The version in force cannot be retired; approve its successor first.")
