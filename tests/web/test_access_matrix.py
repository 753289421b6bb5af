"""Role x route matrix: every registered URL rule, every role, allowed or denied.

A route missing from ``MATRIX`` fails ``test_every_route_has_an_entry``: adding a page or an
endpoint means deciding here who may reach it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.accounts.models import Role
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions

from ..helpers import signed_headers
from ..security.figures import record
from .matrix_admin import ADMIN_MATRIX, ADMIN_SAMPLE_ARGS
from .matrix_engagement import ENGAGEMENT_MATRIX, ENGAGEMENT_SAMPLE_ARGS
from .matrix_events import EVENTS_MATRIX, EVENTS_SAMPLE_ARGS

ANON, RESIDENT, STAFF, ORGANISER, ADMIN, PARTNER = (
    "anonymous",
    "resident",
    "merchant_staff",
    "organiser",
    "admin",
    "partner",
)
ROLES = (ANON, RESIDENT, STAFF, ORGANISER, ADMIN, PARTNER)
PUBLIC = set(ROLES)
USERS = {RESIDENT, STAFF, ORGANISER, ADMIN}

# (method, rule) -> roles allowed
MATRIX: dict[tuple[str, str], set[str]] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("GET", "/register"): PUBLIC,
    ("POST", "/register"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/home"): {RESIDENT},
    ("GET", "/more"): {RESIDENT},
    ("GET", "/merchant"): {STAFF},
    ("GET", "/organiser"): {ORGANISER},
    ("GET", "/admin/login"): PUBLIC,
    ("POST", "/admin/login"): PUBLIC,
    ("POST", "/admin/logout"): PUBLIC,
    ("GET", "/admin/"): {ADMIN},
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/manifest.webmanifest"): PUBLIC,
    ("GET", "/sw.js"): PUBLIC,
    ("GET", "/offline"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/static/<path:filename>"): PUBLIC,
    ("GET", "/api/v1/docs"): PUBLIC,
    ("GET", "/api/v1/docs/assets/<name>"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("POST", "/api/v1/auth/register"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("DELETE", "/api/v1/auth/token"): USERS,
    ("GET", "/api/v1/me"): USERS,
    ("POST", "/api/v1/auth/password"): USERS,
    ("DELETE", "/api/v1/auth/sessions"): USERS,
    ("GET", "/account/security"): USERS,
    ("POST", "/account/security"): USERS,
    ("POST", "/account/sign-out-everywhere"): USERS,
    ("POST", "/account/phone/code"): USERS,
    ("POST", "/account/phone"): USERS,
    ("POST", "/codes/<any(register, reset):purpose>"): PUBLIC,
    ("GET", "/password/reset"): PUBLIC,
    ("POST", "/password/reset"): PUBLIC,
    ("POST", "/api/v1/auth/phone-codes"): PUBLIC,
    ("POST", "/api/v1/auth/password-reset"): PUBLIC,
    ("POST", "/api/v1/me/phone-codes"): USERS,
    ("PUT", "/api/v1/me/phone"): USERS,
    ("GET", "/api/v1/partner/ping"): {PARTNER},
    ("GET", "/methodologies"): PUBLIC,
    ("GET", "/methodologies/<code>"): PUBLIC,
    ("GET", "/api/v1/methodologies"): PUBLIC,
    ("GET", "/api/v1/methodologies/<code>"): PUBLIC,
    ("GET", "/api/v1/admin/methodologies/<code>/versions"): {ADMIN},
    ("POST", "/api/v1/admin/methodologies/<code>/versions"): {ADMIN},
    ("POST", "/api/v1/admin/methodology-versions/<int:version_id>/submit"): {ADMIN},
    ("POST", "/api/v1/admin/methodology-versions/<int:version_id>/approve"): {ADMIN},
    ("GET", "/api/v1/admin/methodology-versions/<int:version_id>/preview"): {ADMIN},
    ("POST", "/api/v1/admin/methodology-versions/<int:version_id>/reject"): {ADMIN},
    ("POST", "/api/v1/admin/methodology-versions/<int:version_id>/retire"): {ADMIN},
    ("GET", "/admin/methodologies"): {ADMIN},
    ("GET", "/admin/methodologies/<code>"): {ADMIN},
    ("GET", "/admin/methodologies/<code>/new"): {ADMIN},
    ("POST", "/admin/methodologies/<code>/new"): {ADMIN},
    ("GET", "/admin/methodology-versions/<int:version_id>"): {ADMIN},
    ("POST", "/admin/methodology-versions/<int:version_id>/<action>"): {ADMIN},
    ("GET", "/admin/methodology-versions/<int:left_id>/diff/<int:right_id>"): {ADMIN},
    # points, offers and redemptions
    ("GET", "/api/v1/me/points"): {RESIDENT},
    ("GET", "/api/v1/offers"): PUBLIC,
    ("GET", "/api/v1/offers/<int:offer_id>"): PUBLIC,
    ("POST", "/api/v1/offers/<int:offer_id>/redeem"): {RESIDENT},
    ("GET", "/api/v1/redemptions"): {RESIDENT},
    ("GET", "/api/v1/redemptions/<int:redemption_id>"): {RESIDENT},
    ("POST", "/api/v1/redemptions/<int:redemption_id>/cancel"): {RESIDENT},
    ("POST", "/api/v1/merchant/fulfil"): {STAFF},
    ("POST", "/api/v1/merchant/fulfil/photo"): {STAFF},
    ("GET", "/api/v1/merchant/redemptions"): {STAFF},
    ("POST", "/api/v1/merchant/redemptions/<int:redemption_id>/refund"): {STAFF},
    ("GET", "/api/v1/merchant/settlement.csv"): {STAFF},
    ("GET", "/api/v1/merchant/offers"): {STAFF},
    ("POST", "/api/v1/merchant/offers"): {STAFF},
    ("POST", "/api/v1/merchant/offers/<int:offer_id>/<any(pause, resume):action>"): {STAFF},
    ("POST", "/api/v1/admin/merchants"): {ADMIN},
    ("POST", "/api/v1/admin/merchants/<int:merchant_id>/staff"): {ADMIN},
    ("PUT", "/api/v1/admin/merchants/<int:merchant_id>/funding"): {ADMIN},
    ("POST", "/api/v1/admin/offers/<int:offer_id>/<any(approve, reject):decision>"): {ADMIN},
    ("GET", "/offers"): PUBLIC,
    ("GET", "/offers/<int:offer_id>"): PUBLIC,
    ("GET", "/offers/<int:offer_id>/image"): PUBLIC,
    ("POST", "/offers/<int:offer_id>/redeem"): {RESIDENT},
    ("GET", "/redemptions"): {RESIDENT},
    ("GET", "/redemptions/<int:redemption_id>"): {RESIDENT},
    ("GET", "/redemptions/<int:redemption_id>/status"): {RESIDENT},
    ("POST", "/redemptions/<int:redemption_id>/cancel"): {RESIDENT},
    ("GET", "/points"): {RESIDENT},
    ("POST", "/merchant/confirm"): {STAFF},
    ("POST", "/merchant/link"): {STAFF},
    ("POST", "/merchant/redemptions/<int:redemption_id>/refund"): {STAFF},
    ("GET", "/merchant/redemptions/<int:redemption_id>/refund"): {STAFF},
    ("GET", "/merchant/entries/<bigid:record_id>"): {STAFF},
    ("POST", "/merchant/entries/<bigid:record_id>"): {STAFF},
    ("GET", "/merchant/settlement.csv"): {STAFF},
    ("GET", "/merchant/offers"): {STAFF},
    ("GET", "/merchant/offers/new"): {STAFF},
    ("POST", "/merchant/offers/new"): {STAFF},
    ("POST", "/merchant/offers/<int:offer_id>/<any(pause, resume):action>"): {STAFF},
    ("GET", "/admin/merchants"): {ADMIN},
    ("POST", "/admin/merchants"): {ADMIN},
    ("GET", "/admin/merchants/<int:merchant_id>"): {ADMIN},
    ("POST", "/admin/merchants/<int:merchant_id>"): {ADMIN},
    ("POST", "/admin/merchants/<int:merchant_id>/funding"): {ADMIN},
    ("GET", "/admin/offers"): {ADMIN},
    ("POST", "/admin/offers/<int:offer_id>/<any(approve, reject):decision>"): {ADMIN},
    # actions: partner batches, sources, claims, self-reports, review
    ("POST", "/api/v1/partner/batches"): {PARTNER},
    ("GET", "/api/v1/partner/batches/<int:batch_id>"): {PARTNER},
    ("POST", "/api/v1/partner/links"): {PARTNER},
    ("GET", "/api/v1/partners"): PUBLIC,
    ("GET", "/api/v1/me/bindings"): {RESIDENT},
    ("POST", "/api/v1/me/bindings"): {RESIDENT},
    ("DELETE", "/api/v1/me/bindings/<int:binding_id>"): {RESIDENT},
    ("POST", "/api/v1/me/bindings/<int:binding_id>/link-code"): {RESIDENT},
    ("POST", "/api/v1/links/counter"): {STAFF},
    ("POST", "/api/v1/me/claim-codes"): {RESIDENT},
    ("POST", "/api/v1/me/household-card"): {RESIDENT},
    ("POST", "/api/v1/claims"): {STAFF},
    ("GET", "/api/v1/me/actions"): {RESIDENT},
    ("GET", "/api/v1/me/actions/<bigid:record_id>"): {RESIDENT},
    ("POST", "/api/v1/me/actions/<bigid:record_id>/appeal"): {RESIDENT},
    ("POST", "/api/v1/me/self-reports"): {RESIDENT},
    ("GET", "/api/v1/admin/review-queue"): {ADMIN},
    ("POST", "/api/v1/admin/actions/<bigid:record_id>/<any(approve, reject):decision>"): {ADMIN},
    ("POST", "/api/v1/admin/partners"): {ADMIN},
    ("POST", "/api/v1/admin/partners/<code>/rotate"): {ADMIN},
    ("GET", "/actions"): {RESIDENT},
    ("GET", "/actions/<bigid:record_id>"): {RESIDENT},
    ("GET", "/actions/<bigid:record_id>/evidence"): {RESIDENT, ADMIN},
    ("POST", "/actions/<bigid:record_id>/appeal"): {RESIDENT},
    ("GET", "/log"): {RESIDENT},
    ("GET", "/my-qr"): {RESIDENT},
    ("GET", "/report"): {RESIDENT},
    ("POST", "/report"): {RESIDENT},
    ("GET", "/sources"): {RESIDENT},
    ("POST", "/sources"): {RESIDENT},
    ("POST", "/sources/<int:binding_id>/revoke"): {RESIDENT},
    ("POST", "/sources/<int:binding_id>/code"): {RESIDENT},
    ("GET", "/card"): {RESIDENT},
    ("POST", "/card"): {RESIDENT},
    ("GET", "/admin/review"): {ADMIN},
    ("GET", "/admin/review/<bigid:record_id>"): {ADMIN},
    ("POST", "/admin/review/<bigid:record_id>/<any(approve, reject):decision>"): {ADMIN},
    ("GET", "/admin/partners"): {ADMIN},
    ("POST", "/admin/partners"): {ADMIN},
    ("GET", "/admin/batches"): {ADMIN},
    ("GET", "/privacy"): {RESIDENT},
    ("POST", "/privacy"): {RESIDENT},
    ("GET", "/privacy/export.<any(json, csv):fmt>"): {RESIDENT},
    ("POST", "/privacy/delete"): {RESIDENT},
}

MATRIX.update(EVENTS_MATRIX)
MATRIX.update(ADMIN_MATRIX)
MATRIX.update(ENGAGEMENT_MATRIX)

SAMPLE_ARGS = {
    "filename": "app.css",
    "name": "swagger-ui.css",
    "code": "public_transit",
    "version_id": "1",
    "left_id": "1",
    "right_id": "1",
    "action": "submit",
    "offer_id": "1",
    "redemption_id": "1",
    "merchant_id": "1",
    "batch_id": "1",
    "binding_id": "1",
    "record_id": "1",
}


SAMPLE_ARGS.update(EVENTS_SAMPLE_ARGS)
SAMPLE_ARGS.update(ADMIN_SAMPLE_ARGS)
SAMPLE_ARGS.update(ENGAGEMENT_SAMPLE_ARGS)


def _routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method, rule.rule))
    return found


def test_every_route_has_an_entry(app):
    missing = sorted(_routes(app) - MATRIX.keys())
    assert not missing, f"add these routes to MATRIX with the roles allowed: {missing}"
    stale = sorted(MATRIX.keys() - _routes(app))
    assert not stale, f"MATRIX names routes that no longer exist: {stale}"
    record("role x route matrix", routes=len(MATRIX), roles=len(ROLES))


@pytest.fixture
def actors(make):
    users = {role: make.user(Role(role)) for role in (RESIDENT, ORGANISER, ADMIN)}
    # a waste station's attendant may also confirm residents' drop-offs
    users[STAFF] = make.staff(make.merchant(kind=MerchantKind.WASTE_STATION))
    _, key_id, secret = make.partner("matrix-partner")
    seed_versions()
    return users, (key_id, secret)


def _url(rule: str) -> str:
    def value(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "", match.group(2)
        if converter.startswith("any("):  # the first allowed value
            return converter[4:].split(",")[0].strip(" )")
        return SAMPLE_ARGS[name]

    return re.sub(r"<(?:([^:>]+):)?(\w+)>", value, rule)


def _denied(response: Any) -> bool:
    if response.status_code in (401, 403):
        return True
    location = response.headers.get("Location", "")
    return response.status_code == 302 and "login" in location


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_only_its_routes(app, client, auth, actors, role):
    users, (key_id, secret) = actors
    headers: dict[str, str] = {}
    if role in users:
        user = users[role]
        # administrators complete the second factor too (tests/helpers.py)
        assert auth.login_page(user, admin=role == ADMIN).status_code == 302
        headers = auth.bearer(user)
    failures = []
    for (method, rule), allowed in sorted(MATRIX.items()):
        if rule.endswith(("/logout", "/sign-out-everywhere")) or (
            rule in ("/api/v1/auth/token", "/api/v1/auth/sessions") and method == "DELETE"
        ):
            continue  # would end this role's session; covered in test_login.py
        url = _url(rule)
        request_headers = dict(headers) if url.startswith("/api/") else {}
        if role == PARTNER:
            request_headers = signed_headers(key_id, secret, method, url)
        response = client.open(url, method=method, headers=request_headers)
        denied = _denied(response)
        if (role in allowed) == denied:
            failures.append(f"{method} {rule}: {role} got {response.status_code}")
    assert not failures, "\n".join(failures)
