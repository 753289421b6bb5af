from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError, Forbidden, NotFound


class UnknownOffer(NotFound):
    code = "unknown_offer"
    message = _l("This offer does not exist.")


class OfferUnavailable(Conflict):
    code = "offer_unavailable"
    message = _l("This offer is not available now.")


class OutOfStock(Conflict):
    code = "out_of_stock"
    message = _l("Sorry, this offer is sold out.")


class LimitReached(Conflict):
    code = "limit_reached"
    message = _l("You have already redeemed this offer as many times as allowed.")


class UnknownRedemption(NotFound):
    code = "unknown_code"
    message = _l("No redemption has this code.")


class OtherMerchant(Forbidden):
    code = "other_merchant"
    message = _l("This code belongs to another merchant.")


class AlreadyFulfilled(Conflict):
    code = "already_fulfilled"
    message = _l("This redemption has already been fulfilled.")


class RedemptionExpired(Conflict):
    code = "redemption_expired"
    message = _l("This redemption has expired; the points went back to the resident.")


class RedemptionCancelled(Conflict):
    code = "redemption_cancelled"
    message = _l("This redemption was cancelled.")


class NotRefundable(Conflict):
    code = "not_refundable"
    message = _l("Only fulfilled redemptions can be refunded.")


class InvalidOffer(DomainError):
    code = "invalid_offer"
    status = 422
    message = _l("Check the offer: %(problem)s")


class InvalidPeriod(DomainError):
    code = "invalid_period"
    status = 422
    message = _l("Choose a period of 1 to 370 days, the end not before the start.")


class InvalidFundingRate(DomainError):
    code = "invalid_funding_rate"
    status = 422
    message = _l("Enter the yuan the city pays per point: a number from 0 to 100, or blank.")


class UnknownMerchant(NotFound):
    code = "unknown_merchant"
    message = _l("This merchant does not exist.")
