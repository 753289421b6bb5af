"""Adversarial: steal, double or mint a credit through the public interfaces, and fail.

An attacker with a resident account tries to squat a card, to learn which cards are linked,
to mass-link sequential numbers, to receive the owner's trips; to have one waste hand-over
credited twice (weighed at a station, then self-reported); to mint points with impossible
self-reports, appeals and approvals. Every attempt goes through the HTTP API, the pages or the
CLI. The honest paths still credit exactly, and ``flask ledger reconcile`` and ``flask
methodologies recompute --check`` are clean afterwards.
"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from backend.actions.claims import new_claim_code
from backend.actions.models import ActivityRecord, Channel, Outcome
from backend.extensions import db as _db
from backend.ledger.queries import resident_balance
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions
from backend.timeutil import local, utcnow

from ..helpers import as_json, local_iso, signed_headers
from .figures import record

BATCHES, LINKS = "/api/v1/partner/batches", "/api/v1/partner/links"
CARD = "QZ00123456"
POINTS = 359  # 8.2 km by bus: (100 - 56.2) x 8.2 = 359.16 -> 359 g -> 359 points


def bus(record_id: str, identity: str = CARD, days_ago: int = 1, hour: int = 8) -> dict[str, Any]:
    start = local_iso(days_ago, hour)
    end = local_iso(days_ago, hour, 25)
    return {
        "record_id": record_id,
        "action": "public_transit",
        "identity": identity,
        "activity": {"mode": "bus", "distance_km": 8.2, "started_at": start, "ended_at": end},
    }


def photo(seed: int) -> tuple[io.BytesIO, str]:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (seed % 255, seed // 255 % 255, 80)).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer, "evidence.png"


class World:
    """A transit operator, a waste station with its attendant, residents and two admins."""

    def __init__(self, client: Any, auth: Any, make: Any) -> None:
        seed_versions()
        self.client, self.auth, self.make = client, auth, make
        _, self.key_id, self.secret = make.partner("qz-bus", kind="transit")
        self.station = make.merchant(kind=MerchantKind.WASTE_STATION.value)
        self.attendant = make.staff(self.station)
        self.admin, self.second_admin = make.user("admin"), make.user("admin")
        self.photos = 0

    # --- the operator (signed) ---
    def signed(self, path: str, payload: Any) -> Any:
        body = as_json(payload)
        headers = signed_headers(
            self.key_id, self.secret, "POST", path, body, content_type="application/json"
        )
        return self.client.post(path, data=body, headers=headers)

    def push(self, *records: dict[str, Any]) -> list[dict[str, Any]]:
        accepted = self.signed(BATCHES, {"records": list(records)})
        assert accepted.status_code == 202, accepted.get_json()
        path = f"{BATCHES}/{accepted.get_json()['batch_id']}"
        headers = signed_headers(self.key_id, self.secret, "GET", path)
        return list(self.client.get(path, headers=headers).get_json()["outcomes"])

    def confirm(self, identity: str, code: str) -> Any:
        return self.signed(LINKS, {"identity": identity, "link_code": code})

    # --- residents ---
    def link(self, user: Any, identity: str) -> Any:
        return self.client.post(
            "/api/v1/me/bindings",
            json={"partner": "qz-bus", "identity": identity, "consent": True},
            headers=self.auth.bearer(user),
        )

    def report(self, user: Any, action: str, activity: dict[str, Any]) -> Any:
        self.photos += 1
        return self.client.post(
            "/api/v1/me/self-reports",
            headers=self.auth.bearer(user),
            content_type="multipart/form-data",
            data={
                "action": action,
                "activity": json.dumps(activity),
                "photo": photo(self.photos),
            },
        )

    def actions(self, user: Any) -> list[dict[str, Any]]:
        return list(
            self.client.get("/api/v1/me/actions?lang=en", headers=self.auth.bearer(user)).get_json()
        )

    def decide(self, admin: Any, record_id: int, decision: str) -> dict[str, Any]:
        answer = self.client.post(
            f"/api/v1/admin/actions/{record_id}/{decision}",
            json={"comment": "checked"},
            headers=self.auth.bearer(admin),
        )
        assert answer.status_code == 200, answer.get_json()
        return dict(answer.get_json())


@pytest.fixture
def world(client, auth, make, db) -> World:
    return World(client, auth, make)


def clean_books(app: Any) -> None:
    runner = app.test_cli_runner()
    reconcile = runner.invoke(args=["ledger", "reconcile"])
    assert reconcile.exit_code == 0, reconcile.output
    recompute = runner.invoke(args=["methodologies", "recompute", "--check"])
    assert recompute.exit_code == 0, recompute.output
    assert ", 0 differences" in recompute.output


# --- steal --------------------------------------------------------------------------------


def test_a_squatted_card_earns_the_squatter_nothing_and_shows_no_trip(world, app):
    owner, squatter = world.make.resident(), world.make.resident()
    squat = world.link(squatter, CARD)  # first, without proof
    assert squat.status_code == 201 and squat.get_json()["status"] == "claimed"
    [waiting] = world.push(bus("s-1", hour=5))  # 05:00-05:25
    assert (waiting["outcome"], waiting["reason"]) == ("unmatched", "identity_unconfirmed")
    assert waiting["points"] is None
    # the squatter cannot confirm it: only the operator (signed) or a station can
    unsigned = world.client.post(
        LINKS, json={"identity": CARD, "link_code": squat.get_json()["link_code"]}
    )
    assert unsigned.status_code == 401
    assert resident_balance(squatter.id) == 0 and world.actions(squatter) == []
    world.auth.login_page(squatter)
    for page in ("/actions", "/sources", "/home"):
        html = world.client.get(page).get_data(as_text=True)
        assert "05:25" not in html and "05:00" not in html  # not the owner's trip times
    # the owner links it too, and shows the code in the operator's app
    code = world.link(owner, "qz 0012-3456").get_json()["link_code"]
    assert world.confirm(CARD, code).status_code == 200
    [later] = world.push(bus("s-2", hour=18))
    assert later["outcome"] == "credited"
    assert resident_balance(owner.id) == 2 * POINTS  # the waiting trip and the later one
    assert resident_balance(squatter.id) == 0
    [released] = world.client.get(
        "/api/v1/me/bindings", headers=world.auth.bearer(squatter)
    ).get_json()
    assert released["status"] == "released"
    clean_books(app)


def test_nobody_learns_whether_a_card_is_linked(world):
    owner, prober = world.make.resident(), world.make.resident()
    world.confirm(CARD, world.link(owner, CARD).get_json()["link_code"])
    taken, free = world.link(prober, CARD), world.link(prober, "QZ99990000")
    assert taken.status_code == free.status_code == 201

    def shape(answer: Any) -> dict[str, Any]:
        body = dict(answer.get_json())
        for key in ("id", "link_code", "identity_hint", "link_code_expires_at", "consented_at"):
            body.pop(key)
        return body

    assert shape(taken) == shape(free)
    # the page says the same for both too
    world.auth.login_page(prober)
    flashes = []
    for identity in ("QZ00123456", "QZ55550000"):
        world.client.post(
            "/sources?lang=en", data={"partner": "qz-bus", "identity": identity, "consent": "1"}
        )
        html = world.client.get("/sources?lang=en").get_data(as_text=True)
        flashes.append(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', html))
    assert flashes[0] == flashes[1] and flashes[0]
    everything = json.dumps([taken.get_json(), free.get_json()]) + "".join(map(str, flashes))
    assert "identity_taken" not in everything and "another resident" not in everything
    # and the card's trips still go to its owner only
    [outcome] = world.push(bus("e-1"))
    assert outcome["outcome"] == "credited" and resident_balance(prober.id) == 0


def test_sequential_numbers_cannot_be_mass_linked(world, app):
    attacker = world.make.resident()
    answers = [world.link(attacker, f"QZ0000{n:04d}") for n in range(25)]
    statuses = [a.status_code for a in answers]
    allowed = app.config["LINK_OPEN_CLAIMS"]
    assert statuses[:allowed] == [201] * allowed
    assert set(statuses[allowed:]) == {429}
    assert answers[-1].get_json()["code"] == "too_many_links"
    # and what was claimed earns nothing: the operator sends every one of those cards' trips
    outcomes = world.push(*(bus(f"m-{n}", f"QZ0000{n:04d}") for n in range(25)))
    assert {o["outcome"] for o in outcomes} == {"unmatched"}
    assert resident_balance(attacker.id) == 0
    record("credit ownership", **{"links refused of 25 sequential": statuses.count(429)})


def test_a_file_import_matches_the_normalised_card_and_credits_only_its_proven_owner(
    world, app, tmp_path
):
    owner, squatter = world.make.resident(), world.make.resident()
    world.link(squatter, "qz0012 3456")
    world.confirm(CARD, world.link(owner, CARD).get_json()["link_code"])
    path = tmp_path / "day.jsonl"
    path.write_text(json.dumps(bus("f-1", identity="qz-0012-3456")) + "\n")
    result = app.test_cli_runner().invoke(
        args=["partners", "import", str(path), "--partner", "qz-bus"]
    )
    assert result.exit_code == 0, result.output
    assert "credited 1" in result.output
    assert resident_balance(owner.id) == POINTS and resident_balance(squatter.id) == 0


# --- double ---------------------------------------------------------------------------------


def test_a_weighed_hand_over_self_reported_three_minutes_later_is_not_credited_twice(world, app):
    resident = world.make.resident()
    weighed_at = local(utcnow() - timedelta(minutes=5)).replace(microsecond=0)
    code = new_claim_code(resident).code
    claim = world.client.post(
        "/api/v1/claims",
        json={
            "code": code,
            "activity": {
                "items": [{"category": "paper", "weight_kg": "2"}],
                "collected_at": weighed_at.isoformat(),
            },
        },
        headers=world.auth.bearer(world.attendant),
    )
    assert claim.status_code == 201 and claim.get_json()["outcome"] == "credited"
    balance = resident_balance(resident.id)
    assert balance > 0
    again = world.report(
        resident,
        "waste_sorting",
        {
            "items": [{"category": "paper", "weight_kg": "2"}],
            "collected_at": (weighed_at + timedelta(minutes=3)).isoformat(),
        },
    )
    assert again.status_code == 201, again.get_json()
    body = again.get_json()
    assert body["outcome"] == "duplicate" and body["reason_code"] == "weighed_already"
    # a check-in of another day's waste earns nothing either (reference §3.5)
    other = world.report(
        resident,
        "waste_sorting",
        {"items": [{"category": "metal", "weight_kg": "5"}], "collected_at": local_iso(2)},
    ).get_json()
    assert other["outcome"] == "rejected" and other["reason_code"] == "self_declared_waste"
    assert "不计减排量" in other["reason"]  # said in words (zh by default)
    assert not world.client.get(
        "/api/v1/admin/review-queue", headers=world.auth.bearer(world.admin)
    ).get_json()
    # nor can an appeal or an approval make it count
    appeal = world.client.post(
        f"/api/v1/me/actions/{other['id']}/appeal",
        json={"text": "I did sort it"},
        headers=world.auth.bearer(resident),
    )
    assert appeal.status_code == 409
    assert resident_balance(resident.id) == balance
    clean_books(app)


# --- mint ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activity", "field", "rule"),
    [
        ({"distance_km": -3}, "distance_km", "non_positive_distance"),
        # 500 km in 10 minutes: 3000 km/h
        ({"distance_km": 500, "ended_at": local_iso(1, 8, 10)}, "distance_km", "speed_implausible"),
        # 39 km in 3 minutes
        ({"distance_km": 39, "ended_at": local_iso(1, 8, 3)}, "distance_km", "speed_implausible"),
        ({"ended_at": local_iso(1, 7, 30)}, "ended_at", "invalid_time_order"),
        ({"started_at": local_iso(-1), "ended_at": local_iso(-1, 8, 25)}, "ended_at",
         "dated_in_future"),
        ({"started_at": local_iso(30), "ended_at": local_iso(30, 8, 25)}, "started_at",
         "outside_claim_window"),
        (  # 30 km reported between stops 5.56 km apart
            {
                "distance_km": 30,
                "ended_at": local_iso(1, 8, 40),
                "boarding_lat": 28.95,
                "boarding_lon": 118.87,
                "alighting_lat": 29.0,
                "alighting_lon": 118.87,
            },
            "distance_km",
            "distance_beyond_stops",
        ),
    ],
)  # fmt: skip
def test_impossible_self_reports_are_refused_on_their_field_and_nothing_is_stored(
    world, activity, field, rule
):
    resident = world.make.resident()
    trip = {**bus("x")["activity"], **activity}
    answer = world.report(resident, "public_transit", trip)
    assert answer.status_code == 422, answer.get_json()
    body = answer.get_json()
    assert body["code"] == "activity_rejected"
    assert body["details"] == {"rule": rule, "field": field}
    assert body["message"]  # the rule's own words, in the request's language
    assert _db.session.scalar(select(ActivityRecord.id)) is None


def test_the_report_page_puts_the_error_on_the_field(world):
    resident = world.make.resident()
    world.auth.login_page(resident)
    yesterday = local(utcnow() - timedelta(days=1))
    page = world.client.post(
        "/report?lang=en",
        data={
            "action": "public_transit",
            "mode": "bus",
            "distance_km": "-3",
            "started_at": yesterday.strftime("%Y-%m-%dT08:00"),
            "ended_at": yesterday.strftime("%Y-%m-%dT08:25"),
            "photo": photo(99),
        },
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    html = page.get_data(as_text=True)
    assert re.search(r'id="distance_km" name="distance_km" aria-invalid="true"', html)
    assert "Trip distance must be above 0" in html


def test_an_approval_or_appeal_cannot_credit_a_record_that_fails_validation(world, app):
    resident = world.make.resident()
    # a self-report stored before reports were checked at entry: 39 km in 3 minutes
    legacy = ActivityRecord(
        channel=Channel.SELF_REPORT,
        action="public_transit",
        resident_id=resident.id,
        activity={**bus("x")["activity"], "distance_km": 39, "ended_at": local_iso(1, 8, 3)},
        outcome=Outcome.REVIEW,
        flags=["self_report"],
        reason_code="self_report",
    )
    _db.session.add(legacy)
    _db.session.commit()
    world.auth.login_page(world.admin, admin=True)
    review = world.client.get(f"/admin/review/{legacy.id}?lang=en").get_data(as_text=True)
    assert "780.0 km/h" in review  # the computed speed, in words with its limit
    assert "Average speed 780 km/h is above the plausible limit 60 km/h" in review
    assert "Approval cannot credit this record" in review and "Approve and credit" not in review
    decided = world.decide(world.admin, legacy.id, "approve")
    assert decided["outcome"] == "rejected" and decided["reason_code"] == "speed_implausible"
    assert resident_balance(resident.id) == 0
    # reject, appeal, and a second administrator approves: still nothing
    legacy_2 = ActivityRecord(
        channel=Channel.SELF_REPORT,
        action="public_transit",
        resident_id=resident.id,
        activity={**bus("x", days_ago=2)["activity"], "distance_km": -3},
        outcome=Outcome.REVIEW,
        flags=["self_report"],
    )
    _db.session.add(legacy_2)
    _db.session.commit()
    world.decide(world.admin, legacy_2.id, "reject")
    appeal = world.client.post(
        f"/api/v1/me/actions/{legacy_2.id}/appeal",
        json={"text": "please"},
        headers=world.auth.bearer(resident),
    )
    assert appeal.status_code == 200
    decided = world.decide(world.second_admin, legacy_2.id, "approve")
    assert decided["outcome"] == "rejected" and decided["reason_code"] == "non_positive_distance"
    assert resident_balance(resident.id) == 0
    clean_books(app)


def test_an_approved_anomaly_is_credited_and_never_called_a_duplicate(world, app):
    rider = world.make.resident()
    world.confirm(CARD, world.link(rider, CARD).get_json()["link_code"])
    fast = bus("a-1")
    fast["activity"].update(distance_km=20, ended_at=local_iso(1, 8, 15))  # 80 km/h: a signal
    [flagged] = world.push(fast)
    assert flagged["outcome"] == "flagged" and flagged["reason"] == "speed_implausible"
    record_id = _db.session.scalar(select(ActivityRecord.id))
    world.auth.login_page(world.admin, admin=True)
    review = world.client.get(f"/admin/review/{record_id}?lang=en").get_data(as_text=True)
    assert "80.0 km/h" in review and "Approve and credit" in review
    assert "None: approving would not count anything twice." in review
    approved = world.decide(world.admin, record_id, "approve")
    assert approved["outcome"] == "credited" and approved["reason"] is None
    # (100 - 56.2) x 20 = 876 g
    assert resident_balance(rider.id) == 876
    clean_books(app)


# --- the honest paths ------------------------------------------------------------------------


def test_the_honest_paths_credit_exactly(world, app):
    rider = world.make.resident()
    world.confirm(CARD, world.link(rider, CARD).get_json()["link_code"])
    [trip] = world.push(bus("h-1"))
    assert (trip["outcome"], trip["reduction_g"], trip["points"]) == ("credited", 359, 359)
    walker = world.make.resident()
    report = world.report(walker, "public_transit", bus("h-2", days_ago=2)["activity"])
    assert report.status_code == 201 and report.get_json()["outcome"] == "review"
    world.auth.login_page(walker)
    listed = world.client.get("/actions?lang=en").get_data(as_text=True)
    assert "You reported: bus · 8.2 km" in listed  # what they submitted
    decided = world.decide(world.admin, report.get_json()["id"], "approve")
    assert decided["outcome"] == "credited" and decided["points"] == POINTS
    assert resident_balance(rider.id) == resident_balance(walker.id) == POINTS
    clean_books(app)
