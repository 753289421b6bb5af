"""Credit integrity, tried as an attacker would (issue 14): through the partner API, the
residents' and administrators' API, the counter, the pages and the CLI, try to mint a
credit out of nothing (future-dated, ancient, a fresh cap per future day, the midnight cap
edge), to double one (the same action across a methodology version boundary) or to round
one up (half-up against floor, JSON against CSV precision). None works, the honest path
credits exactly, and afterwards ``flask ledger reconcile`` and ``flask methodologies
recompute --check`` are clean, with credits under the old and the new module versions.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from backend.actions.models import ActivityRecord, Reduction
from backend.ledger.queries import resident_balance
from backend.merchants.models import MerchantKind
from backend.methodology_versions.models import MethodologyVersion, VersionStatus
from backend.methodology_versions.services import seed_versions
from backend.timeutil import LOCAL_TZ, utcnow

from ..helpers import DAY, NEXT_DAY, as_json, link_proven, recent_day, signed_headers

BATCHES = "/api/v1/partner/batches"
CSV_HEAD = "record_id,action,identity,mode,distance_km,started_at,ended_at\n"


class Partner:
    """A signed partner client (JSON and CSV pushes, batch outcomes)."""

    def __init__(self, client: Any, make: Any, kind: str = "transit") -> None:
        self.partner, self.key_id, self.secret = make.partner(kind=kind)
        self.client = client

    def push(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._send(as_json({"records": records}), "application/json")

    def push_csv(self, text: str) -> list[dict[str, Any]]:
        return self._send(text.encode(), "text/csv")

    def _send(self, body: bytes, content_type: str) -> list[dict[str, Any]]:
        headers = signed_headers(
            self.key_id, self.secret, "POST", BATCHES, body, content_type=content_type
        )
        accepted = self.client.post(BATCHES, data=body, headers=headers)
        assert accepted.status_code == 202, accepted.get_json()
        path = f"{BATCHES}/{accepted.get_json()['batch_id']}"
        answer = self.client.get(
            path, headers=signed_headers(self.key_id, self.secret, "GET", path)
        )
        return answer.get_json()["outcomes"]


def link(resident: Any, partner: Partner, identity: str) -> None:
    """The resident's proven link to their card at the partner (the one place to adapt when
    links need the partner's confirmation): linked, then confirmed with its link code."""
    link_proven(resident, partner.partner.code, identity)


def trip(record_id: str, start: str, end: str, km: Any = "8.2", card: str = "CARD-A") -> dict:
    return {
        "record_id": record_id,
        "action": "public_transit",
        "identity": card,
        "activity": {"mode": "bus", "distance_km": km, "started_at": start, "ended_at": end},
    }


def local_iso(moment: Any) -> str:
    return moment.astimezone(LOCAL_TZ).isoformat()


def photo(seed: int) -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (seed % 255, 40, 200)).save(buffer, format="PNG")
    buffer.seek(0)
    return buffer


@pytest.fixture
def world(client, make, db):
    seed_versions()
    transit = Partner(client, make)
    rider = make.resident()
    link(rider, transit, "CARD-A")
    return transit, rider


def _outcomes(answer: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(o["outcome"], o["reason"]) for o in answer]


def _clean(app: Any) -> None:
    runner = app.test_cli_runner()
    ledger = runner.invoke(args=["ledger", "reconcile"])
    assert ledger.exit_code == 0 and "reconcile: clean" in ledger.output, ledger.output
    check = runner.invoke(args=["methodologies", "recompute", "--check"])
    assert check.exit_code == 0 and " 0 differences" in check.output, check.output


# --- minting from nothing -------------------------------------------------------------------


def test_future_dated_and_ancient_partner_records_mint_nothing(app, world, db):
    transit, rider = world
    now = utcnow()
    soon, later = now + timedelta(days=30), now + timedelta(days=365 * 50)
    past = now - timedelta(days=365 * 50)
    answer = transit.push(
        [
            trip("f-30d", local_iso(soon), local_iso(soon + timedelta(minutes=25))),
            trip("f-50y", local_iso(later), local_iso(later + timedelta(minutes=25))),
            trip("a-50y", local_iso(past), local_iso(past + timedelta(minutes=25))),
            trip("a-31d", *(local_iso(now - timedelta(days=31, minutes=m)) for m in (25, 0))),
        ]
    )
    assert _outcomes(answer) == [
        ("rejected", "dated_in_future"),
        ("rejected", "dated_in_future"),
        ("rejected", "outside_claim_window"),
        ("rejected", "outside_claim_window"),
    ]
    assert resident_balance(rider.id) == 0
    # a record within the clock skew (5 minutes) is not "future": clocks disagree a little
    start = now - timedelta(minutes=20)
    ok = transit.push([trip("skew", local_iso(start), local_iso(now + timedelta(minutes=3)))])
    assert _outcomes(ok) == [("credited", None)]
    _clean(app)


def test_a_days_file_import_follows_the_same_time_rules(app, world, tmp_path):
    transit, rider = world
    now = utcnow()
    ahead, behind = now + timedelta(days=2), now - timedelta(days=45)
    day_file = tmp_path / "day.csv"
    day_file.write_text(
        CSV_HEAD + f"i-future,public_transit,CARD-A,bus,8.2,{local_iso(ahead)},"
        f"{local_iso(ahead + timedelta(minutes=25))}\n"
        + f"i-old,public_transit,CARD-A,bus,8.2,{local_iso(behind)},"
        f"{local_iso(behind + timedelta(minutes=25))}\n"
        + f"i-ok,public_transit,CARD-A,bus,8.2,{DAY}T08:00:00+08:00,{DAY}T08:25:00+08:00\n"
    )
    result = app.test_cli_runner().invoke(
        args=["partners", "import", str(day_file), "--partner", transit.partner.code]
    )
    assert result.exit_code == 0 and "credited 1, rejected 2" in result.output, result.output
    assert resident_balance(rider.id) == 359
    _clean(app)


def test_every_future_day_does_not_bring_a_fresh_daily_cap(app, world):
    transit, rider = world
    tomorrow = utcnow().astimezone(LOCAL_TZ).replace(hour=7, minute=0, second=0) + timedelta(days=1)
    records = [
        trip(
            f"cap-{d}-{h}",
            local_iso(tomorrow + timedelta(days=d, hours=h)),
            local_iso(tomorrow + timedelta(days=d, hours=h, minutes=25)),
        )
        for d in range(10)
        for h in range(6)  # six trips a day: the daily limit, on each of ten future days
    ]
    answer = transit.push(records)
    assert {o["outcome"] for o in answer} == {"rejected"}
    assert {o["reason"] for o in answer} == {"dated_in_future"}
    assert resident_balance(rider.id) == 0
    _clean(app)


def test_trips_from_before_the_card_was_linked_earn_only_inside_the_claim_window(app, world, make):
    transit, _ = world
    newcomer = make.resident()
    link(newcomer, transit, "CARD-NEW")  # consent given now
    now = utcnow()
    years_ago = now - timedelta(days=3 * 365)
    answer = transit.push(
        [
            trip("old", local_iso(years_ago), local_iso(years_ago + timedelta(minutes=25)),
                 card="CARD-NEW"),
            trip("recent", f"{DAY}T08:00:00+08:00", f"{DAY}T08:25:00+08:00", card="CARD-NEW"),
        ]
    )  # fmt: skip
    assert _outcomes(answer) == [("rejected", "outside_claim_window"), ("credited", None)]
    assert resident_balance(newcomer.id) == 359  # (100 − 56.2) × 8.2 = 359.16 → 359
    _clean(app)


def test_a_drop_off_at_00_00_30_counts_against_its_own_day(app, client, make, db):
    seed_versions()
    station = Partner(client, make, kind="waste_station")
    resident = make.resident()
    link(resident, station, "HH-1")

    def drop(record_id: str, at: str) -> dict[str, Any]:
        items = [{"category": "paper", "weight_kg": "1"}]
        return {
            "record_id": record_id,
            "action": "waste_sorting",
            "identity": "HH-1",
            "activity": {"items": items, "collected_at": at, "weighed": True},
        }

    answer = station.push(
        [
            *(drop(f"d-{m}", f"{DAY}T23:{m}:00+08:00") for m in (50, 52, 54)),  # the day's 3
            drop("d-late", f"{DAY}T23:56:00+08:00"),  # a fourth the same day: refused
            drop("d-next", f"{NEXT_DAY}T00:00:30+08:00"),  # just after midnight: a new day
        ]
    )
    assert _outcomes(answer) == [
        ("credited", None),
        ("credited", None),
        ("credited", None),
        ("rejected", "daily_limit_reached"),
        ("credited", None),
    ]
    days = db.session.scalars(select(Reduction.local_day).order_by(Reduction.id)).all()
    assert days == [DAY, DAY, DAY, NEXT_DAY]
    _clean(app)


def test_a_counter_claim_dated_tomorrow_is_refused(client, auth, make, db):
    seed_versions()
    merchant = make.merchant(name="回收站", kind=MerchantKind.WASTE_STATION)
    staff, resident = make.staff(merchant), make.resident()
    code = client.post("/api/v1/me/claim-codes", headers=auth.bearer(resident)).get_json()
    tomorrow = local_iso(utcnow() + timedelta(days=1))
    answer = client.post(
        "/api/v1/claims",
        json={
            "code": code["code"],
            "activity": {
                "items": [{"category": "paper", "weight_kg": 2}],
                "collected_at": tomorrow,
            },
        },
        headers=auth.bearer(staff),
    ).get_json()
    assert (answer["outcome"], answer["reason_code"]) == ("rejected", "dated_in_future")
    assert resident_balance(resident.id) == 0


def _self_report(client, headers, activity, seed):
    return client.post(
        "/api/v1/me/self-reports",
        headers=headers,
        content_type="multipart/form-data",
        data={
            "action": "public_transit",
            "activity": json.dumps(activity),
            "photo": (photo(seed), "ticket.png"),
        },
    )


@pytest.mark.parametrize(
    ("when", "code"),
    [(1, "dated_in_future"), (-9, "outside_claim_window")],
    ids=["tomorrow", "nine-days-ago"],
)
def test_a_self_report_out_of_time_is_never_credited_by_approval_or_appeal(
    app, client, auth, make, db, when, code
):
    seed_versions()
    resident, admin = make.resident(), make.user("admin")
    start = utcnow().astimezone(LOCAL_TZ).replace(hour=8, minute=0) + timedelta(days=when)
    activity = {
        "mode": "bus",
        "distance_km": 39,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=50)).isoformat(),
    }
    sent = _self_report(client, auth.bearer(resident), activity, seed=when + 20)
    if sent.status_code == 422:  # refused at entry (with the field), which is fine too
        assert resident_balance(resident.id) == 0
        return
    record_id = sent.get_json()["id"]
    approved = client.post(
        f"/api/v1/admin/actions/{record_id}/approve", json={}, headers=auth.bearer(admin)
    ).get_json()
    assert (approved["outcome"], approved["reason_code"]) == ("rejected", code)
    # the resident reads why, in plain Chinese and English
    for lang, word in (("en", "claim window" if when < 0 else "after the record reached us"),
                       ("zh", "申领期限" if when < 0 else "晚于平台收到记录的时间")):  # fmt: skip
        mine = client.get(
            f"/api/v1/me/actions/{record_id}",
            headers={**auth.bearer(resident), "Accept-Language": lang},
        ).get_json()
        assert word in mine["reason"]
    page = auth.login_page(resident)
    assert page.status_code == 302
    html = client.get(f"/actions/{record_id}?lang=en").get_data(as_text=True)
    assert ("claim window" if when < 0 else "after the record reached us") in html
    assert resident_balance(resident.id) == 0


def test_an_appeal_does_not_credit_a_trip_dated_tomorrow(client, auth, make, db):
    seed_versions()
    resident, first, second = make.resident(), make.user("admin"), make.user("admin")
    start = utcnow().astimezone(LOCAL_TZ) + timedelta(days=1)
    activity = {
        "mode": "bus",
        "distance_km": 8.2,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=25)).isoformat(),
    }
    sent = _self_report(client, auth.bearer(resident), activity, seed=77)
    if sent.status_code == 422:
        return  # refused at entry: nothing to appeal
    record_id = sent.get_json()["id"]
    client.post(
        f"/api/v1/admin/actions/{record_id}/reject",
        json={"comment": "no"},
        headers=auth.bearer(first),
    )
    appeal = client.post(
        f"/api/v1/me/actions/{record_id}/appeal",
        json={"text": "please"},
        headers=auth.bearer(resident),
    )
    assert appeal.status_code == 200
    decided = client.post(
        f"/api/v1/admin/actions/{record_id}/approve", json={}, headers=auth.bearer(second)
    ).get_json()
    assert (decided["outcome"], decided["reason_code"]) == ("rejected", "dated_in_future")
    assert resident_balance(resident.id) == 0


# --- rounding up, and doubling across a version boundary ---------------------------------------


def _approve_module_2(app, client, auth, make, db) -> None:
    """The offered module 2.0.0 drafts, submitted by one administrator and approved by
    another through the API (four eyes; the submitter cannot approve)."""
    offered = app.test_cli_runner().invoke(args=["methodologies", "seed"])
    # the four resident modules 2.0.0, and afforestation 1.1.0 (measured forest crediting)
    assert "offered 5 new module versions" in offered.output, offered.output
    first, second = make.user("admin"), make.user("admin")
    drafts = db.session.scalars(
        select(MethodologyVersion.id).where(
            MethodologyVersion.status == VersionStatus.DRAFT,
            MethodologyVersion.module_version == "2.0.0",
        )
    ).all()
    assert len(drafts) == 4
    for version_id in drafts:
        base = f"/api/v1/admin/methodology-versions/{version_id}"
        assert client.post(f"{base}/submit", headers=auth.bearer(first)).status_code == 200
        own = client.post(f"{base}/approve", json={}, headers=auth.bearer(first))
        assert own.status_code == 403 and own.get_json()["code"] == "four_eyes_required"
        ok = client.post(f"{base}/approve", json={"comment": "ok"}, headers=auth.bearer(second))
        assert ok.status_code == 200 and ok.get_json()["module_version"] == "2.0.0"


def test_no_credit_is_rounded_up_or_doubled_across_a_version_boundary(
    app, client, auth, make, world, db
):
    transit, rider = world
    # under v1 (module 1.0.0, approved half-up), a trip of 2.5 km before the boundary
    before = [trip("v1-2.5", f"{DAY}T08:00:00+08:00", f"{DAY}T08:10:00+08:00", km="2.5")]
    assert _outcomes(transit.push(before)) == [("credited", None)]
    _approve_module_2(app, client, auth, make, db)
    # after the boundary: the same 2.5 km, made now
    start = utcnow() + timedelta(seconds=2)
    after = trip("v2-2.5", local_iso(start), local_iso(start + timedelta(minutes=4)), km="2.5")
    # the v1 trip again, under a new record id, sent after the new version: one action
    again = trip("v1-again", f"{DAY}T08:00:00+08:00", f"{DAY}T08:10:00+08:00", km="2.5")
    # a trip made before the boundary, received after it: quantified under v1, its time's
    late = trip("v1-late", f"{DAY}T18:00:00+08:00", f"{DAY}T18:10:00+08:00", km="2.5")
    assert _outcomes(transit.push([after, again, late])) == [
        ("credited", None),
        ("duplicate", "duplicate_action"),
        ("credited", None),
    ]
    rows = {
        r.record.partner_record_id: (r.module_version, r.baseline_g, r.project_g, r.reduction_g)
        for r in db.session.scalars(select(Reduction))
    }
    # baseline 100 × 2.5 = 250, project 56.2 × 2.5 = 140.5, 250 − 140.5 = 109.5 g:
    # 1.0.0 rounded each total half-up (250 − 141 shown as 110); 2.0.0 credits ⌊109.5⌋ = 109
    assert rows == {
        "v1-2.5": ("1.0.0", 250, 141, 110),
        "v1-late": ("1.0.0", 250, 141, 110),
        "v2-2.5": ("2.0.0", 250, 141, 109),
    }
    # what the resident reads under 2.0.0 adds up: 250 − 140.5 = 109.5, ⌊109.5⌋ = 109
    v2_id = db.session.scalar(
        select(ActivityRecord.id).where(ActivityRecord.partner_record_id == "v2-2.5")
    )
    steps = client.get(
        f"/api/v1/me/actions/{v2_id}", headers={**auth.bearer(rider), "Accept-Language": "en"}
    ).get_json()["calculation"]["steps"]
    assert [(s["expression"], s["value"]) for s in steps[-2:]] == [
        ("250 - 140.5", "109.5"),
        ("⌊109.5⌋", "109"),
    ]
    assert resident_balance(rider.id) == 110 + 110 + 109
    _clean(app)


def test_json_numbers_keep_the_precision_csv_keeps(app, client, auth, make, world, db, tmp_path):
    transit, rider = world
    _approve_module_2(app, client, auth, make, db)
    # 43.8 g/pkm × 2.28310502283105022831 km = 99.99999999999999999… g → 99 g; through a
    # float the distance would become 2.2831050228310503 km and 100.0000000000000031 → 100 g
    km = "2.28310502283105022831"
    for card in ("CARD-B", "CARD-C"):  # three riders on the same bus, one per form
        link(make.resident(), transit, card)
    start = utcnow() + timedelta(seconds=2)  # after module 2.0.0 took effect
    times = [local_iso(start), local_iso(start + timedelta(minutes=3))] * 3
    body = (
        '{"records": [{"record_id": "json", "action": "public_transit", "identity": "CARD-A", '
        f'"activity": {{"mode": "bus", "distance_km": {km}, "started_at": "{times[0]}", '
        f'"ended_at": "{times[1]}"}}}}]}}'
    )  # a JSON number, not a string
    assert _outcomes(transit._send(body.encode(), "application/json")) == [("credited", None)]
    csv_answer = transit.push_csv(
        CSV_HEAD + f"csv,public_transit,CARD-B,bus,{km},{times[2]},{times[3]}\n"
    )
    assert _outcomes(csv_answer) == [("credited", None)]
    lines = tmp_path / "day.jsonl"
    lines.write_text(
        '{"record_id": "jsonl", "action": "public_transit", "identity": "CARD-C", '
        f'"activity": {{"mode": "bus", "distance_km": {km}, "started_at": "{times[4]}", '
        f'"ended_at": "{times[5]}"}}}}\n'
    )
    result = app.test_cli_runner().invoke(
        args=["partners", "import", str(lines), "--partner", transit.partner.code]
    )
    assert result.exit_code == 0 and "credited 1" in result.output, result.output
    grams = db.session.scalars(select(Reduction.reduction_g).order_by(Reduction.id)).all()
    assert grams == [99, 99, 99]
    _clean(app)


def test_the_honest_path_still_credits_exactly(app, world):
    transit, rider = world
    day = recent_day(3)
    answer = transit.push(
        [
            trip(f"h-{h}", f"{day}T{h:02d}:00:00+08:00", f"{day}T{h:02d}:25:00+08:00")
            for h in (7, 9, 12, 17, 19)
        ]
    )  # fmt: skip
    assert _outcomes(answer) == [("credited", None)] * 5
    assert resident_balance(rider.id) == 5 * 359  # (100 − 56.2) × 8.2 = 359.16 → 359 each
    _clean(app)
