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


class TooManyLinks(DomainError):
    code = "too_many_links"
    status = 429
    message = _l(
        "You have linked too many cards or accounts for now, or too many wait for confirmation. "
        "Confirm or remove one, or try again tomorrow."
    )


class LinkCodeInvalid(DomainError):
    code = "link_code_invalid"
    status = 422
    message = _l(
        "No link of this card or account waits for this link code, or the code has expired. "
        "Ask the resident for the code shown on their linked sources page."
    )


class LinkNotClaimed(DomainError):
    code = "link_not_claimed"
    status = 422
    message = _l(
        "This resident has no link of this card waiting for confirmation. They should first "
        "link it under My data sources, then show you a fresh QR code."
    )


class LinkNeedsPartner(Conflict):
    code = "link_needs_partner"
    message = _l(
        "This card's operator confirms who holds it: the resident should show the link code "
        "in the operator's app or at the operator's counter."
    )


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


class ActivityRejected(DomainError):
    """A rule of the methodology, or a time rule, refuses the activity (message: the rule's
    own bilingual reason; details: the rule's code and the field)."""

    code = "activity_rejected"
    status = 422


class JobsUnavailable(DomainError):
    code = "jobs_unavailable"
    status = 503
    message = _l("The processing queue is unavailable; nothing was stored. Please retry later.")


class CounterInputInvalid(DomainError):
    """Staff input at a counter that cannot be right (no weight, 1000 kg, 0 diners).

    Raised before the resident's code is used: ``details`` maps each form field to its
    message, and the code stays valid for the corrected try."""

    code = "counter_input_invalid"
    status = 422
    message = _l(
        "Please check the highlighted fields. The resident's code has not been used: "
        "correct them and confirm again."
    )


class UnknownCounterEntry(NotFound):
    code = "unknown_counter_entry"
    message = _l("There is no such entry among the ones you confirmed.")


class CounterEntryClosed(Conflict):
    code = "counter_entry_closed"
    message = _l(
        "This entry can no longer be changed here (corrections are possible for %(minutes)s "
        "minutes after confirming, once). Please contact the programme office."
    )


class CounterEntryInUse(Conflict):
    code = "counter_entry_in_use"
    message = _l(
        "This entry's reduction has already been used for an event, so it cannot be changed "
        "here. Please contact the programme office."
    )
