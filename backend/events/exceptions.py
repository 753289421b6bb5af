from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError, NotFound


class UnknownEvent(NotFound):
    code = "unknown_event"
    message = _l("This event does not exist.")


class UnknownPlan(NotFound):
    code = "unknown_plan"
    message = _l("This planting plan does not exist.")


class UnknownPlanting(NotFound):
    code = "unknown_planting"
    message = _l("This planting record does not exist.")


class UnknownCertificate(NotFound):
    code = "unknown_certificate"
    message = _l("No certificate has this verification code.")


class UnknownProject(NotFound):
    code = "unknown_project"
    message = _l("This planting project does not exist or is not approved yet.")


class InvalidEvent(DomainError):
    code = "invalid_event"
    status = 422
    message = _l("Check the event: %(problem)s")


class InvalidFootprint(DomainError):
    """``details`` lists every problem: [{"line": n or null, "code", "message"}]."""

    code = "invalid_footprint"
    status = 422
    message = _l("Check the activity data: %(problem)s")


class ActualBeforeEventEnd(Conflict):
    code = "event_not_over"
    message = _l("Actual data can be entered once the event has ended.")


class NoFootprint(Conflict):
    code = "no_footprint"
    message = _l("Enter the event's activity data first: the plan is sized on its footprint.")


class InvalidPlan(DomainError):
    code = "invalid_plan"
    status = 422
    message = _l("Check the plan: %(problem)s")


class AlreadyCovered(Conflict):
    code = "already_covered"
    message = _l("Retired reductions already cover this event's emissions; no forest is needed.")


class PlanLocked(Conflict):
    code = "plan_locked"
    message = _l(
        "This event already has an approved planting plan. Cover any further emissions by "
        "retiring reductions."
    )


class InvalidPlanTransition(Conflict):
    code = "invalid_plan_transition"
    message = _l("Not possible in the plan's current state: %(action)s.")


class CommentRequired(DomainError):
    code = "comment_required"
    status = 422
    message = _l("Say why the plan is returned.")


class InvalidRetirement(DomainError):
    code = "invalid_retirement"
    status = 422
    message = _l("Check the amount to retire: %(problem)s")


class InsufficientPool(Conflict):
    code = "insufficient_pool"
    message = _l(
        "The pool of verified reductions holds %(available)s kg CO2e not yet retired, less than "
        "the %(requested)s kg requested. Nothing was retired."
    )


class RetirementRace(Conflict):
    code = "retirement_race"
    message = _l("Another retirement was being recorded at the same time. Please try again.")


class InvalidPlanting(DomainError):
    code = "invalid_planting"
    status = 422
    message = _l("Check the planting record: %(problem)s")


class NotCertifiable(Conflict):
    code = "not_certifiable"
    message = _l("The certificate cannot be issued yet: %(problem)s")


class AlreadyCertified(Conflict):
    code = "already_certified"
    message = _l("This event already has a certificate.")


class InvalidDonation(DomainError):
    code = "invalid_donation"
    status = 422
    message = _l("Donate a whole number of points, at least 1.")


class RetirementOvershoot(Conflict):
    code = "retirement_overshoot"
    message = _l(
        "The reductions available changed since the preview: covering the amount would now "
        "retire %(kg)s kg CO2e. Nothing was retired; please look at the new preview."
    )


class InvalidMeasurement(DomainError):
    code = "invalid_measurement"
    status = 422
    message = _l("Check the growth measurement: %(problem)s")


class MeasurementRace(Conflict):
    code = "measurement_race"
    message = _l("Another forest credit was recorded at the same moment. Please try again.")
