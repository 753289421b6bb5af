from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError, Forbidden, NotFound


class UnknownPartnerCode(NotFound):
    code = "unknown_partner"
    message = _l("There is no such data partner.")


class InvalidIdentity(DomainError):
    code = "invalid_identity"
    status = 422
    message = _l("Enter the card number or account id as shown by the operator (4-64 characters).")


class IdentityTaken(Conflict):
    code = "identity_taken"
    message = _l("This card or account is already linked to another resident.")


class UnknownBinding(NotFound):
    code = "unknown_binding"
    message = _l("There is no such linked data source.")


class InvalidBatch(DomainError):
    code = "invalid_batch"
    status = 422
    message = _l(
        'The batch must be JSON ({"records": [...]} or an array of records) or a CSV with the '
        'agreed columns, as the body or as the one file of the form field "file".'
    )


class UnsupportedBatchFile(DomainError):
    code = "unsupported_batch_file"
    status = 415
    message = _l(
        "Upload the batch as a CSV (.csv, text/csv) or JSON (.json, application/json) file."
    )


class BatchTooLarge(DomainError):
    code = "batch_too_large"
    status = 413
    message = _l("At most %(limit)s records per request; split the batch.")


class UnknownBatch(NotFound):
    code = "unknown_batch"
    message = _l("There is no such batch.")


class ClaimCodeInvalid(DomainError):
    code = "claim_code_invalid"
    status = 422
    message = _l("This resident code is unknown, expired or already used. Ask for a fresh one.")


class WrongStation(Forbidden):
    code = "wrong_station"
    message = _l("Your station cannot confirm this kind of action.")


class UnknownAction(NotFound):
    code = "unknown_action"
    message = _l("There is no such action.")


class PhotoReused(Conflict):
    code = "photo_reused"
    message = _l("This photo was already used as evidence for another action.")


class NotReviewable(Conflict):
    code = "not_reviewable"
    message = _l("This action is not waiting for review.")


class AppealNotAllowed(Conflict):
    code = "appeal_not_allowed"
    message = _l("Only a rejected action can be appealed, and only once.")


class AppealTooLate(Conflict):
    code = "appeal_too_late"
    message = _l("An appeal must be made within %(days)s days of the decision.")


class SameReviewer(Forbidden):
    code = "same_reviewer"
    message = _l("An appeal must be decided by a different administrator than the first review.")


class InvalidActivity(DomainError):
    code = "invalid_activity"
    status = 422
    message = _l("The activity data is incomplete or malformed: %(problem)s")


class JobsUnavailable(DomainError):
    code = "jobs_unavailable"
    status = 503
    message = _l("The processing queue is unavailable; nothing was stored. Please retry later.")
