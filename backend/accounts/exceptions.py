from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..errors import Conflict, DomainError


class InvalidPhone(DomainError):
    code = "invalid_phone"
    status = 422
    message = _l("Enter a mainland China mobile number: 11 digits starting with 1.")


class WeakPassword(DomainError):
    code = "weak_password"
    status = 422
    message = _l("The password needs at least 8 characters, with letters and digits.")


class UnknownDistrict(DomainError):
    code = "unknown_district"
    status = 422
    message = _l("Choose one of Quzhou's districts and counties.")


class InvalidNickname(DomainError):
    code = "invalid_nickname"
    status = 422
    message = _l("The nickname must be 1 to 20 characters.")


class PhoneTaken(Conflict):
    code = "phone_taken"
    message = _l("This mobile number is already registered. Please sign in.")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 401
    message = _l("Wrong mobile number or password.")


class AccountLocked(DomainError):
    code = "account_locked"
    status = 423
    message = _l("Too many failed attempts. The account is locked for %(minutes)s minutes.")


class AccountSuspended(DomainError):
    code = "account_suspended"
    status = 403
    message = _l("This account is suspended. Please contact the programme office.")


class InvalidToken(DomainError):
    code = "invalid_token"
    status = 401
    message = _l("The access token is missing, expired or revoked.")


class UnknownMerchant(DomainError):
    code = "unknown_merchant"
    status = 422
    message = _l("Merchant staff must belong to an existing merchant.")


class TotpRequired(DomainError):
    code = "totp_required"
    status = 401
    message = _l("Administrators also need the 6-digit code from their authenticator app.")


class InvalidTotp(DomainError):
    code = "invalid_totp"
    status = 401
    message = _l("The code is wrong or has already been used. Enter the current code.")


class TotpSetupRequired(DomainError):
    code = "totp_setup_required"
    status = 403
    message = _l("Set up the authenticator app first: sign in to the admin console in a browser.")


class TotpAlreadySetUp(Conflict):
    code = "totp_already_set_up"
    message = _l("Two-step verification is already set up for this account.")


class ReasonRequired(DomainError):
    code = "reason_required"
    status = 422
    message = _l("Give a reason (it is kept in the audit log).")


class CannotChangeOwnAccount(DomainError):
    code = "own_account"
    status = 403
    message = _l("You cannot suspend or restore your own account.")


class NicknameRequired(DomainError):
    code = "nickname_required"
    status = 422
    message = _l("Set a nickname first: the leaderboard never shows phone numbers.")
