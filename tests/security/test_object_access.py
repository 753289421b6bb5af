"""Object-level access: real objects of one side (resident A, merchant M1, partner P1,
organiser 1) requested by every actor, including the same role on the other side (resident B,
merchant M2, partner P2, organiser 2).

The route-level matrix (tests/web/test_access_matrix.py) says which *roles* reach a route;
this table says which routes act on an object someone *owns*. For each of them, with A-side
objects in the URL (and body), every actor gets the answer the route matrix gives its role,
except that the owner's counterpart is refused (403/404, or a page's redirect), and a refused
request changes nothing in the database. Owner-scoped lists must not show the other side's
objects, and a merchant cannot fulfil or refund another merchant's redemption code.

A route with a path parameter that is in neither ``OWNED`` nor ``NOT_OWNED`` fails
``test_every_object_route_is_classified``.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from backend.accounts.models import Role
from backend.actions.claims import new_claim_code, submit_claim
from backend.actions.ingest import receive_batch
from backend.actions.self_reports import submit_self_report
from backend.events.forest import create_plan
from backend.events.services import local_today
from backend.extensions import db as _db
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions
from backend.qr import format_short_code
from backend.rewards.models import Redemption
from backend.rewards.services import fulfil_redemption, redeem_offer
from backend.teams.services import create_team

from ..backend.events.helpers import WORKED_LINES, plan_data, worked_event
from ..conftest import IsolatedClient
from ..helpers import Auth, as_json, link_proven, local_iso, signed_headers
from ..web.test_access_matrix import MATRIX
from .figures import record

ANON, RESIDENT, STAFF, ORGANISER, ADMIN, PARTNER = (
    "anonymous",
    "resident",
    "merchant_staff",
    "organiser",
    "admin",
    "partner",
)
# actor -> (role, side): the owners are on side A; B is the same role on the other side
ACTORS: dict[str, tuple[str, str]] = {
    "anonymous": (ANON, ""),
    "resident A": (RESIDENT, "A"),
    "resident B": (RESIDENT, "B"),
    "staff of M1": (STAFF, "A"),
    "staff of M2": (STAFF, "B"),
    "organiser 1": (ORGANISER, "A"),
    "organiser 2": (ORGANISER, "B"),
    "administrator": (ADMIN, ""),
    "partner P1": (PARTNER, "A"),
    "partner P2": (PARTNER, "B"),
}


@dataclass
class Owned:
    """A route acting on an object of ``owner`` (a role); ``args`` name the side's objects."""

    owner: str
    args: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    form: dict[str, str] | None = None


HELD = {"redemption_id": "held"}
DONE = {"redemption_id": "done"}
RECORD = {"record_id": "record"}
EVENT = {"event_id": "event"}
PLAN = {"plan_id": "plan"}
OFFER = {"offer_id": "offer"}
TEAM = {"team_id": "team"}

OWNED: dict[tuple[str, str], Owned] = {
    # residents: redemptions, actions (records and their evidence), linked sources
    ("GET", "/api/v1/redemptions/<int:redemption_id>"): Owned(RESIDENT, HELD),
    ("POST", "/api/v1/redemptions/<int:redemption_id>/cancel"): Owned(RESIDENT, HELD),
    ("GET", "/redemptions/<int:redemption_id>"): Owned(RESIDENT, HELD),
    ("GET", "/redemptions/<int:redemption_id>/status"): Owned(RESIDENT, HELD),
    ("POST", "/redemptions/<int:redemption_id>/cancel"): Owned(RESIDENT, HELD),
    ("GET", "/api/v1/me/actions/<bigid:record_id>"): Owned(RESIDENT, RECORD),
    ("POST", "/api/v1/me/actions/<bigid:record_id>/appeal"): Owned(
        RESIDENT, RECORD, json={"text": "我确实坐了公交"}
    ),
    ("GET", "/actions/<bigid:record_id>"): Owned(RESIDENT, RECORD),
    ("GET", "/actions/<bigid:record_id>/evidence"): Owned(RESIDENT, RECORD),
    ("POST", "/actions/<bigid:record_id>/appeal"): Owned(
        RESIDENT, RECORD, form={"text": "我确实坐了公交"}
    ),
    ("DELETE", "/api/v1/me/bindings/<int:binding_id>"): Owned(RESIDENT, {"binding_id": "binding"}),
    ("POST", "/sources/<int:binding_id>/revoke"): Owned(RESIDENT, {"binding_id": "binding"}),
    ("POST", "/sources/<int:binding_id>/code"): Owned(RESIDENT, {"binding_id": "binding"}),
    ("POST", "/api/v1/me/bindings/<int:binding_id>/link-code"): Owned(
        RESIDENT, {"binding_id": "binding"}
    ),
    # merchants: their redemptions (refund) and offers
    ("POST", "/api/v1/merchant/redemptions/<int:redemption_id>/refund"): Owned(
        STAFF, DONE, json={"reason": "顾客退货"}
    ),
    ("POST", "/merchant/redemptions/<int:redemption_id>/refund"): Owned(
        STAFF, DONE, form={"reason": "顾客退货"}
    ),
    ("GET", "/merchant/redemptions/<int:redemption_id>/refund"): Owned(STAFF, DONE),
    # station staff: the drop-offs they confirmed (correct or cancel)
    ("GET", "/merchant/entries/<bigid:record_id>"): Owned(STAFF, {"record_id": "entry"}),
    ("POST", "/merchant/entries/<bigid:record_id>"): Owned(
        STAFF, {"record_id": "entry"}, form={"do": "cancel"}
    ),
    ("POST", "/api/v1/merchant/offers/<int:offer_id>/<any(pause, resume):action>"): Owned(
        STAFF, OFFER
    ),
    ("POST", "/merchant/offers/<int:offer_id>/<any(pause, resume):action>"): Owned(STAFF, OFFER),
    # partners: their batches
    ("GET", "/api/v1/partner/batches/<int:batch_id>"): Owned(PARTNER, {"batch_id": "batch"}),
    # organisers: their events, footprints, plans and retirements
    ("GET", "/api/v1/events/<int:event_id>"): Owned(ORGANISER, EVENT),
    ("GET", "/api/v1/events/<int:event_id>/retirements"): Owned(ORGANISER, EVENT),
    ("GET", "/api/v1/events/<int:event_id>/forest-credits"): Owned(ORGANISER, EVENT),
    ("POST", "/api/v1/events/<int:event_id>/footprints/<any(planned, actual):stage>"): Owned(
        ORGANISER, EVENT, json={"lines": WORKED_LINES}
    ),
    ("POST", "/api/v1/events/<int:event_id>/plans"): Owned(ORGANISER, EVENT, json=plan_data()),
    ("POST", "/api/v1/events/<int:event_id>/retirements"): Owned(
        ORGANISER, EVENT, json={"grams": 1000}
    ),
    ("POST", "/api/v1/plans/<int:plan_id>/submit"): Owned(ORGANISER, PLAN),
    ("GET", "/organiser/events/<int:event_id>"): Owned(ORGANISER, EVENT),
    ("GET", "/organiser/events/<int:event_id>/footprint/<any(planned, actual):stage>"): Owned(
        ORGANISER, EVENT
    ),
    ("POST", "/organiser/events/<int:event_id>/footprint/<any(planned, actual):stage>"): Owned(
        ORGANISER, EVENT, form={"participants": "500"}
    ),
    ("GET", "/organiser/events/<int:event_id>/plan"): Owned(ORGANISER, EVENT),
    ("POST", "/organiser/events/<int:event_id>/plan"): Owned(
        ORGANISER, EVENT, form={"district": "衢江区", "site": "宜林荒山", "planting_year": "2027"}
    ),
    ("GET", "/organiser/events/<int:event_id>/report/<any(planned, actual):stage>"): Owned(
        ORGANISER, EVENT
    ),
    ("GET", "/organiser/events/<int:event_id>/report/<any(planned, actual):stage>.pdf"): Owned(
        ORGANISER, EVENT
    ),
    ("POST", "/organiser/plans/<int:plan_id>/submit"): Owned(ORGANISER, PLAN),
    ("POST", "/organiser/events/<int:event_id>/retire"): Owned(ORGANISER, EVENT, form={"kg": "1"}),
    # residents: the teams they are in (anyone else's team is not found)
    ("GET", "/teams/<int:team_id>"): Owned(RESIDENT, TEAM),
    ("POST", "/teams/<int:team_id>/goal"): Owned(
        RESIDENT, TEAM, form={"plan_id": "1", "points": "9"}
    ),
    ("POST", "/teams/<int:team_id>/donate"): Owned(RESIDENT, TEAM, form={"points": "10"}),
    ("POST", "/teams/<int:team_id>/privacy"): Owned(RESIDENT, TEAM, form={"show": "1"}),
    ("POST", "/teams/<int:team_id>/leave"): Owned(RESIDENT, TEAM),
}

# Routes with a path parameter whose object nobody owns: public objects (offers, projects,
# certificates, methodologies, assets), a resident acting on a public object, the resident's
# own export (no id), and the administrators' console (route-level: administrators only).
NOT_OWNED_PUBLIC = {
    ("GET", "/api/v1/offers/<int:offer_id>"),
    ("GET", "/offers/<int:offer_id>"),
    ("GET", "/offers/<int:offer_id>/image"),
    ("POST", "/codes/<any(register, reset):purpose>"),
    ("POST", "/api/v1/offers/<int:offer_id>/redeem"),
    ("POST", "/offers/<int:offer_id>/redeem"),
    ("GET", "/api/v1/projects/<int:plan_id>"),
    ("GET", "/projects/<int:plan_id>"),
    ("GET", "/projects/<int:plan_id>/photos/<int:planting_id>/<int:index>"),
    ("POST", "/api/v1/projects/<int:plan_id>/donations"),
    ("POST", "/projects/<int:plan_id>/donate"),
    ("GET", "/api/v1/certificates/<code>"),
    ("GET", "/verify/<code>"),
    ("GET", "/verify/<code>/certificate.pdf"),
    ("GET", "/api/v1/methodologies/<code>"),
    ("GET", "/methodologies/<code>"),
    ("GET", "/api/v1/docs/assets/<name>"),
    ("GET", "/static/<path:filename>"),
    ("GET", "/privacy/export.<any(json, csv):fmt>"),
}


def _admin_only(key: tuple[str, str]) -> bool:
    return MATRIX.get(key) == {ADMIN}


NOT_OWNED = NOT_OWNED_PUBLIC | {key for key in MATRIX if "<" in key[1] and _admin_only(key)}

# Owner-scoped lists: (url, owner role, how the side's object shows in it): JSON lists are
# checked by object id, pages and CSV by the object's text.
PERIOD = "from={start}&to={end}"
LISTS: list[tuple[str, str, str, str]] = [
    ("/api/v1/redemptions", RESIDENT, "id", "held"),
    ("/redemptions", RESIDENT, "text", "offer_title"),
    ("/api/v1/me/actions", RESIDENT, "id", "record"),
    ("/api/v1/me/bindings", RESIDENT, "id", "binding"),
    ("/api/v1/merchant/redemptions", STAFF, "id", "done"),
    ("/api/v1/merchant/offers", STAFF, "id", "offer"),
    ("/merchant/offers", STAFF, "text", "offer_title"),
    (f"/api/v1/merchant/settlement.csv?{PERIOD}", STAFF, "text", "offer_title"),
    (f"/merchant/settlement.csv?{PERIOD}", STAFF, "text", "offer_title"),
    ("/api/v1/events", ORGANISER, "id", "event"),
    ("/organiser", ORGANISER, "text", "event_name"),
    ("/teams", RESIDENT, "text", "team_name"),
]

IGNORED_TABLES = {"api_tokens", "partner_seen_signatures", "audit_entries", "users"}


def _photo(seed: int) -> FileStorage:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (seed, 120, 80)).save(buffer, format="PNG")
    buffer.seek(0)
    return FileStorage(stream=buffer, filename="ticket.png", content_type="image/png")


def _side(make: Any, name: str, seed: int) -> dict[str, Any]:
    """One side's people and objects: resident, merchant + staff, partner, organiser."""
    resident = make.resident()
    merchant = make.merchant(name=f"{name}商户", kind=MerchantKind.WASTE_STATION)
    staff = make.staff(merchant)
    organiser = make.user(Role.ORGANISER)
    partner, key_id, secret = make.partner(f"obj-{name}", kind="transit")
    binding = link_proven(resident, partner.code, f"CARD-{name}")
    make.points(resident, 10_000)
    offer = make.offer(merchant, title_zh=f"{name}侧的优惠券")
    held = redeem_offer(resident, offer.id)
    done = redeem_offer(resident, offer.id)
    fulfil_redemption(staff, code=done.short_code)
    trip = {"mode": "bus", "distance_km": 8.2, "started_at": local_iso(1)}
    trip["ended_at"] = local_iso(1, minute=25)
    record = {"record_id": f"{name}-1", "action": "public_transit", "identity": f"CARD-{name}"}
    batch = receive_batch(
        partner, as_json({"records": [{**record, "activity": trip}]}), "application/json"
    )
    report = submit_self_report(resident, "public_transit", trip, _photo(seed))
    entry = submit_claim(
        staff,
        {"items": [{"category": "paper", "weight_kg": 2}]},
        code=new_claim_code(resident).code,
    )
    event = worked_event(organiser)
    event.name = f"{name}侧的活动"
    plan = create_plan(organiser, event.id, plan_data())
    team = create_team(resident, {"name": f"{name}侧的团队", "kind": "household"})
    _db.session.commit()
    return {
        "users": {RESIDENT: resident, STAFF: staff, ORGANISER: organiser},
        "partner_key": (key_id, secret),
        "ids": {
            "held": held.id,
            "done": done.id,
            "record": report.id,
            "entry": entry.id,
            "binding": binding.id,
            "batch": batch.id,
            "event": event.id,
            "plan": plan.id,
            "offer": offer.id,
            "team": team.id,
        },
        "markers": {
            "held_code": format_short_code(held.short_code),
            "offer_title": f"{name}侧的优惠券",
            "event_name": f"{name}侧的活动",
            "team_name": f"{name}侧的团队",
        },
    }


class World:
    def __init__(self, app: Any, make: Any) -> None:
        seed_versions()
        self.app = app
        self.sides = {"A": _side(make, "A", 10), "B": _side(make, "B", 20)}
        admin = make.user(Role.ADMIN)
        self.clients: dict[str, Any] = {}
        self.tokens: dict[str, str] = {}
        for actor, (role, side) in ACTORS.items():
            client = app.test_client()
            self.clients[actor] = client
            user = admin if role == ADMIN else self.sides.get(side, {}).get("users", {}).get(role)
            if user is not None:
                login = Auth(client, make)
                assert login.login_page(user, admin=role == ADMIN).status_code == 302
                self.tokens[actor] = login.token(user)

    def url(self, rule: str, args: dict[str, str], side: str = "A") -> str:
        ids = self.sides[side]["ids"]

        def value(match: re.Match[str]) -> str:
            converter, name = match.group(1) or "", match.group(2)
            if converter.startswith("any("):
                return converter[4:].split(",")[0].strip(" )")
            return str(ids[args[name]])

        return re.sub(r"<(?:([^:>]+):)?(\w+)>", value, rule)

    def request(self, actor: str, method: str, url: str, json: Any = None, form: Any = None) -> Any:
        role, side = ACTORS[actor]
        headers: dict[str, str] = {}
        if url.startswith("/api/"):
            if role == PARTNER:  # signed over the exact bytes sent
                key_id, secret = self.sides[side]["partner_key"]
                body = as_json(json) if json is not None else b""
                kind = "application/json" if json is not None else None
                headers = signed_headers(key_id, secret, method, url, body, content_type=kind)
                return self.clients[actor].open(url, method=method, headers=headers, data=body)
            elif actor in self.tokens:
                headers = {"Authorization": f"Bearer {self.tokens[actor]}"}
        return self.clients[actor].open(url, method=method, headers=headers, json=json, data=form)

    def snapshot(self) -> str:
        """A digest of every business table: a refused request must not change it."""
        digest = hashlib.sha256()
        _db.session.expire_all()
        for table in _db.metadata.sorted_tables:
            if table.name in IGNORED_TABLES:
                continue
            rows = _db.session.execute(select(table).order_by(*table.primary_key.columns))
            for row in rows:
                digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()


@pytest.fixture
def world(app, db, make, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path))
    app.test_client_class = IsolatedClient
    return World(app, make)


def _denied(response: Any) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    return response.status_code == 302 and "login" in response.headers.get("Location", "")


def test_every_object_route_is_classified(app):
    rules = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.arguments
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    missing = sorted(rules - OWNED.keys() - NOT_OWNED)
    assert not missing, f"say who owns the object of these routes (OWNED or NOT_OWNED): {missing}"
    stale = sorted((OWNED.keys() | NOT_OWNED_PUBLIC) - rules)
    assert not stale, f"no longer routes: {stale}"


def _expected(key: tuple[str, str], owned: Owned, actor: str) -> bool:
    role, side = ACTORS[actor]
    return role in MATRIX[key] and (role != owned.owner or side == "A")


def test_objects_are_reached_only_by_their_owners(world):
    failures: list[str] = []
    checks = 0
    # refusals first (they must change nothing), then the allowed requests, which may
    order = sorted(ACTORS, key=lambda actor: ACTORS[actor][1] == "A")
    for allowed_pass in (False, True):
        for key, owned in OWNED.items():
            method, rule = key
            url = world.url(rule, owned.args)
            for actor in order:
                if _expected(key, owned, actor) is not allowed_pass:
                    continue
                before = world.snapshot() if method != "GET" and not allowed_pass else None
                response = world.request(actor, method, url, json=owned.json, form=owned.form)
                checks += 1
                if allowed_pass and _denied(response):
                    failures.append(f"{actor} refused {method} {url}: {response.status_code}")
                elif not allowed_pass:
                    refused = _denied(response) or (
                        response.status_code == 302 and not url.startswith("/api/")
                    )
                    if not refused:
                        failures.append(f"{actor} reached {method} {url}: {response.status_code}")
                    if before is not None and world.snapshot() != before:
                        failures.append(f"{actor} changed data with {method} {url}")
    record(
        "object-level access",
        **{"owned routes": len(OWNED), "actors": len(ACTORS), "requests": checks},
    )
    assert not failures, "\n".join(failures)


def _shows(response: Any, how: str, value: Any) -> bool:
    if how == "id":
        return value in {item["id"] for item in response.get_json()}
    return str(value) in response.get_data(as_text=True)


def test_lists_show_only_your_own(world):
    today = local_today()
    period = {"start": (today - timedelta(days=30)).isoformat(), "end": today.isoformat()}
    failures = []
    for url, role, how, name in LISTS:
        for side, other in (("A", "B"), ("B", "A")):
            actor = next(a for a, (r, s) in ACTORS.items() if r == role and s == side)
            response = world.request(actor, "GET", url.format(**period))
            assert response.status_code == 200, (actor, url, response.status_code)
            values = {
                s: world.sides[s]["ids" if how == "id" else "markers"][name] for s in (side, other)
            }
            if not _shows(response, how, values[side]):
                failures.append(f"{actor}: {url} does not show their own {name}")
            if _shows(response, how, values[other]):
                failures.append(f"{actor}: {url} shows the other side's {name}")
    record("object-level access", **{"owner-scoped lists": len(LISTS)})
    assert not failures, "\n".join(failures)


def test_a_merchant_cannot_fulfil_another_merchants_code(world):
    """Staff of M2 present M1's redemption code: refused, nothing moves; M1's staff can.
    (The counter page calls the same service.)"""
    held = _db.session.get(Redemption, world.sides["A"]["ids"]["held"])
    body = {"code": world.sides["A"]["markers"]["held_code"]}
    before = world.snapshot()
    response = world.request("staff of M2", "POST", "/api/v1/merchant/fulfil", json=body)
    assert world.snapshot() == before
    assert response.status_code == 404, response.get_json()  # as if no such code existed
    assert response.get_json()["code"] == "unknown_code"
    response = world.request("staff of M1", "POST", "/api/v1/merchant/fulfil", json=body)
    assert response.status_code == 200, response.get_json()
    _db.session.refresh(held)
    assert held.status.value == "fulfilled"
