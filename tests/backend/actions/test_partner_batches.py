from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from backend.actions.identities import revoke_binding
from backend.actions.models import (
    ActivityRecord,
    IdentityBinding,
    Outcome,
    PartnerBatch,
    Reduction,
)
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile

from ...helpers import DAY, NEXT_DAY, as_json, signed_headers
from .conftest import BATCHES, Pusher, bus


def test_a_signed_batch_credits_a_bound_resident(transit, rider, db):
    _, pusher = transit
    accepted = pusher.push([bus("t-1")])
    assert accepted.status_code == 202, accepted.get_json()
    body = accepted.get_json()
    assert body["received"] == 1
    status = pusher.get(body["batch_id"]).get_json()
    assert status["status"] == "done"
    assert status["progress"] == {"processed": 1, "total": 1}
    # (100 - 56.2) g/pkm x 8.2 km = 359.16 -> 359 g -> 359 points
    assert status["outcomes"] == [
        {
            "record_id": "t-1",
            "outcome": "credited",
            "reduction_g": 359,
            "points": 359,
            "reason": None,
        }
    ]
    assert resident_balance(rider.id) == 359
    reduction = db.session.scalar(select(Reduction))
    assert reduction.methodology_code == "public_transit" and reduction.params_hash
    assert reconcile().clean


def test_identities_are_stored_only_as_keyed_hashes(transit, rider, db):
    _, pusher = transit
    pusher.push([bus("t-h")])
    record = db.session.scalar(select(ActivityRecord))
    binding = db.session.scalar(select(IdentityBinding))
    assert "CARD0001" not in str(record.activity) and record.identity_hash != "CARD0001"
    assert binding.identity_hash == record.identity_hash and binding.identity_hint == "****0001"


def test_resending_a_record_is_a_duplicate_never_credited_twice(transit, rider, db):
    _, pusher = transit
    first = pusher.push([bus("t-2")]).get_json()["batch_id"]
    again = pusher.push([bus("t-2"), bus("t-2")]).get_json()["batch_id"]
    assert pusher.get(first).get_json()["outcomes"][0]["outcome"] == "credited"
    outcomes = pusher.get(again).get_json()["outcomes"]
    assert [o["outcome"] for o in outcomes] == ["duplicate", "duplicate"]
    assert outcomes[0]["reason"] == "resent_record"
    assert resident_balance(rider.id) == 359


def test_unknown_identity_and_revoked_consent_are_unmatched(transit, rider, db):
    _, pusher = transit
    batch = pusher.push([bus("t-3", identity="SOMEONE-ELSE")]).get_json()["batch_id"]
    assert pusher.get(batch).get_json()["outcomes"][0]["outcome"] == "unmatched"
    binding = db.session.scalar(select(IdentityBinding))
    revoke_binding(rider, binding.id)
    batch = pusher.push(
        [bus("t-4", start=f"{DAY}T18:00:00+08:00", end=f"{DAY}T18:20:00+08:00")]
    ).get_json()["batch_id"]
    outcome = pusher.get(batch).get_json()["outcomes"][0]
    assert outcome["outcome"] == "unmatched" and outcome["reason"] == "unmatched_identity"
    assert resident_balance(rider.id) == 0


def test_csv_batches_use_the_same_rules(transit, rider):
    _, pusher = transit
    csv_body = (
        "record_id,action,identity,mode,distance_km,started_at,ended_at\n"
        f"c-1,public_transit,CARD0001,bus,8.2,{DAY}T08:00:00+08:00,"
        f"{DAY}T08:25:00+08:00\n"
        f"c-2,public_transit,CARD0001,bus,-3,{DAY}T09:00:00+08:00,"
        f"{DAY}T09:10:00+08:00\n"
    ).encode()
    accepted = pusher.push(body=csv_body, content_type="text/csv")
    assert accepted.status_code == 202, accepted.get_json()
    outcomes = pusher.get(accepted.get_json()["batch_id"]).get_json()["outcomes"]
    assert [(o["record_id"], o["outcome"], o["reason"]) for o in outcomes] == [
        ("c-1", "credited", None),
        ("c-2", "rejected", "non_positive_distance"),
    ]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"action": "public_transit", "identity": "CARD0001", "activity": {}}, "malformed_record"),
        (
            {
                "record_id": "m-2",
                "action": "public_transit",
                "identity": "CARD0001",
                "activity": {"mode": "bus"},
            },
            "malformed_record",
        ),
        (
            {
                "record_id": "m-3",
                "action": "waste_sorting",
                "identity": "CARD0001",
                "activity": {"items": [], "collected_at": f"{DAY}T08:00:00+08:00"},
            },
            "action_not_allowed",
        ),
        (
            {
                "record_id": "m-4",
                "action": "public_transit",
                "identity": "CARD0001",
                "activity": {
                    "mode": "bus",
                    "distance_km": 1e30,
                    "started_at": f"{DAY}T08:00:00+08:00",
                    "ended_at": f"{DAY}T08:05:00+08:00",
                },
            },
            "malformed_record",
        ),
    ],
)
def test_bad_records_are_rejected_with_a_reason(transit, rider, record, reason):
    _, pusher = transit
    batch = pusher.push([record]).get_json()["batch_id"]
    outcome = pusher.get(batch).get_json()["outcomes"][0]
    assert (outcome["outcome"], outcome["reason"]) == ("rejected", reason)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"records": 5}', "application/json", 422, "invalid_batch"),
        (b'"records"', "application/json", 422, "invalid_batch"),
        (b'{"rows": []}', "application/json", 422, "invalid_batch"),
        (b"not json", "application/json", 422, "invalid_batch"),
        (b"a,b\n1,2\n", "text/csv", 422, "invalid_batch"),
        (b"<xml/>", "application/xml", 415, "unsupported_media_type"),
    ],
)
def test_bad_batches_are_refused_and_store_nothing(transit, db, body, content_type, status, code):
    _, pusher = transit
    response = pusher.push(body=body, content_type=content_type)
    assert response.status_code == status and response.get_json()["code"] == code
    assert db.session.scalar(select(func.count()).select_from(ActivityRecord)) == 0


def test_more_than_the_limit_is_refused(transit, app):
    _, pusher = transit
    app.config["BATCH_MAX_RECORDS"] = 3
    try:
        response = pusher.push([bus(f"x-{i}") for i in range(4)])
    finally:
        app.config["BATCH_MAX_RECORDS"] = 10000
    assert response.status_code == 413 and response.get_json()["code"] == "batch_too_large"


def test_a_partner_sees_only_its_own_batches(client, make, transit, rider):
    _, pusher = transit
    batch = pusher.push([bus("own-1")]).get_json()["batch_id"]
    _, key_id, secret = make.partner("other-bus", kind="transit")
    other = Pusher(client, key_id, secret)
    response = other.get(batch)
    assert response.status_code == 404 and response.get_json()["code"] == "unknown_batch"


def test_overlapping_bus_and_bike_trips_are_one_action(client, make, transit, rider, db):
    _, bus_pusher = transit
    _, key_id, secret = make.partner("bike-co", kind="bike_share")
    from backend.actions.identities import bind_identity

    bind_identity(rider, "bike-co", "BIKE-77")
    bike = Pusher(client, key_id, secret)
    bus_pusher.push([bus("b-1")])
    batch = bike.push(
        [
            {
                "record_id": "k-1",
                "action": "bike_sharing",
                "identity": "BIKE-77",
                "activity": {
                    "bike_type": "pedal",
                    "distance_km": 3,
                    "started_at": f"{DAY}T08:10:00+08:00",
                    "ended_at": f"{DAY}T08:30:00+08:00",
                },
            }
        ]
    ).get_json()
    outcome = bike.get(batch["batch_id"]).get_json()["outcomes"][0]
    assert outcome["outcome"] == "duplicate" and outcome["reason"] == "duplicate_action"
    loser = db.session.scalar(
        select(ActivityRecord).where(ActivityRecord.partner_record_id == "k-1")
    )
    assert loser.duplicate_of_id is not None  # kept, with what it duplicates


def test_daily_limit_and_cap(transit, rider, app):
    _, pusher = transit
    trips = [
        bus(f"d-{h}", start=f"{DAY}T{h:02d}:00:00+08:00", end=f"{DAY}T{h:02d}:25:00+08:00")
        for h in range(7, 15)
    ]
    batch = pusher.push(trips).get_json()["batch_id"]
    outcomes = [(o["outcome"], o["reason"]) for o in pusher.get(batch).get_json()["outcomes"]]
    # public_transit allows 6 trips a day (max_actions_per_day); the 7th and 8th are refused
    assert outcomes[:6] == [("credited", None)] * 6
    assert outcomes[6:] == [("rejected", "daily_limit_reached")] * 2


def test_a_burst_goes_to_review_instead_of_being_credited(transit, rider, app):
    _, pusher = transit
    app.config["BURST_LIMIT"] = 2
    try:
        trips = [
            bus(
                f"u-{h}",
                start=f"{DAY}T{h:02d}:00:00+08:00",
                end=f"{DAY}T{h:02d}:25:00+08:00",
            )
            for h in range(7, 10)
        ]
        batch = pusher.push(trips).get_json()["batch_id"]
    finally:
        app.config["BURST_LIMIT"] = 15
    outcomes = [(o["outcome"], o["reason"]) for o in pusher.get(batch).get_json()["outcomes"]]
    assert outcomes == [("credited", None), ("credited", None), ("flagged", "burst")]


def test_a_job_that_crashes_half_way_reruns_without_double_credit(
    transit, rider, app, db, monkeypatch
):
    from backend.actions import ingest
    from backend.actions.models import PartnerBatch

    partner, pusher = transit
    app.config["INGEST_CHUNK"] = 2
    calls = {"n": 0}
    real = ingest.verify_new

    def flaky(rows):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(rows)

    monkeypatch.setattr(ingest, "verify_new", flaky)
    trips = [
        bus(f"r-{h}", start=f"{DAY}T{h:02d}:00:00+08:00", end=f"{DAY}T{h:02d}:25:00+08:00")
        for h in range(7, 11)
    ]
    try:
        # the job fails in the worker (RQ records the failure; the request already answered)
        ingest.receive_batch(partner, json.dumps({"records": trips}).encode(), "application/json")
        db.session.rollback()
        batch = db.session.scalar(select(PartnerBatch))
        assert batch.status.value == "processing"
        assert batch.processed == 2  # the first chunk is committed, the second is not
        assert resident_balance(rider.id) == 2 * 359
        ingest.process_batch(batch.id)  # the retry
    finally:
        app.config["INGEST_CHUNK"] = 1000
    assert resident_balance(rider.id) == 4 * 359
    credited = db.session.scalar(
        select(func.count())
        .select_from(ActivityRecord)
        .where(ActivityRecord.outcome == Outcome.CREDITED)
    )
    assert credited == 4
    assert reconcile().clean


def test_programme_wide_daily_points_cap_and_pause(transit, rider, make, db):
    from backend.settings.services import set_setting

    _, pusher = transit
    admin = make.user("admin")
    set_setting(admin, "daily_points_cap", 500)
    trips = [
        bus(f"p-{h}", start=f"{DAY}T{h:02d}:00:00+08:00", end=f"{DAY}T{h:02d}:25:00+08:00")
        for h in range(7, 10)
    ]
    batch = pusher.push(trips).get_json()["batch_id"]
    outcomes = pusher.get(batch).get_json()["outcomes"]
    # 359 + min(359, 500 - 359 = 141); the third trip finds the cap reached
    assert [o["points"] for o in outcomes[:2]] == [359, 141]
    assert (outcomes[2]["outcome"], outcomes[2]["reason"]) == ("rejected", "programme_cap_reached")
    set_setting(admin, "crediting_paused", 1)
    paused = pusher.push(
        [bus("p-x", start=f"{NEXT_DAY}T07:00:00+08:00", end=f"{NEXT_DAY}T07:25:00+08:00")]
    ).get_json()["batch_id"]
    held = pusher.get(paused).get_json()["outcomes"][0]
    assert (held["outcome"], held["reason"]) == ("flagged", "awaiting_verification")
    set_setting(admin, "crediting_paused", 0)


# --- the four forms of a batch (issue 5: "JSON array or CSV upload") ----------------------

CSV_TRIPS = (
    "record_id,action,identity,mode,distance_km,started_at,ended_at\n"
    f"%s-1,public_transit,CARD0001,bus,8.2,{DAY}T08:00:00+08:00,{DAY}T08:25:00+08:00\n"
    f"%s-2,public_transit,CARD0001,bus,-3,{DAY}T09:00:00+08:00,{DAY}T09:10:00+08:00\n"
).encode()


def _multipart(*parts: tuple[str, bytes, str, str | None]) -> tuple[bytes, str]:
    """A multipart/form-data body of (field, data, filename, content type) files."""
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    values = MultiDict(
        [
            (field, FileStorage(io.BytesIO(data), filename=name, content_type=ctype))
            for field, data, name, ctype in parts
        ]
    )
    boundary, body = encode_multipart(values)
    return body, f"multipart/form-data; boundary={boundary}"


def _outcomes(pusher: Pusher, response) -> list[tuple[str, str, str | None]]:
    assert response.status_code == 202, response.get_json()
    status = pusher.get(response.get_json()["batch_id"]).get_json()
    return [(o["record_id"], o["outcome"], o["reason"]) for o in status["outcomes"]]


def test_a_bare_json_array_is_a_batch(transit, rider, db):
    _, pusher = transit
    records = [bus("a-1"), {"record_id": "a-2", "action": "public_transit"}]
    response = pusher.push(body=as_json(records))
    assert response.get_json()["received"] == 2
    assert _outcomes(pusher, response) == [
        ("a-1", "credited", None),
        ("a-2", "rejected", "malformed_record"),
    ]
    assert db.session.scalar(select(PartnerBatch.source)) == "json"
    assert resident_balance(rider.id) == 359


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("day.csv", "text/csv"),
        ("day.csv", "application/vnd.ms-excel"),  # what Windows browsers send for a .csv
        ("day.csv", "application/octet-stream"),  # told by the name
        ("export", "application/csv"),  # told by the content type
    ],
)
def test_a_csv_file_upload_is_a_batch(transit, rider, db, filename, content_type):
    _, pusher = transit
    body, multipart = _multipart(("file", CSV_TRIPS % (b"u", b"u"), filename, content_type))
    response = pusher.push(body=body, content_type=multipart)
    assert _outcomes(pusher, response) == [
        ("u-1", "credited", None),
        ("u-2", "rejected", "non_positive_distance"),
    ]
    batch = db.session.scalar(select(PartnerBatch))
    assert batch.source == "csv" and batch.total == 2
    assert resident_balance(rider.id) == 359


@pytest.mark.parametrize(
    ("document", "filename", "content_type"),
    [
        ({"records": [bus("v-1")]}, "day.json", "application/json"),
        ([bus("v-1")], "day.json", "application/octet-stream"),
        ([bus("v-1")], "upload.bin", "application/json"),
    ],
)
def test_a_json_file_upload_is_a_batch(transit, rider, db, document, filename, content_type):
    _, pusher = transit
    body, multipart = _multipart(("file", as_json(document), filename, content_type))
    response = pusher.push(body=body, content_type=multipart)
    assert _outcomes(pusher, response) == [("v-1", "credited", None)]
    assert db.session.scalar(select(PartnerBatch.source)) == "json"


@pytest.mark.parametrize(
    ("parts", "status", "code"),
    [
        ([("records", CSV_TRIPS % (b"w", b"w"), "day.csv", "text/csv")], 422, "invalid_batch"),
        (
            [
                ("file", CSV_TRIPS % (b"w", b"w"), "a.csv", "text/csv"),
                ("file", CSV_TRIPS % (b"x", b"x"), "b.csv", "text/csv"),
            ],
            422,
            "invalid_batch",
        ),
        ([("file", b"\x89PNG\r\n", "day.png", "image/png")], 415, "unsupported_batch_file"),
        ([("file", b"a,b\n1,2\n", "day.csv", "text/csv")], 422, "invalid_batch"),
        ([("file", b"{not json", "day.json", "application/json")], 422, "invalid_batch"),
        ([], 422, "invalid_batch"),
    ],
)
def test_bad_uploads_are_refused_and_store_nothing(transit, db, parts, status, code):
    _, pusher = transit
    body, multipart = _multipart(*parts)
    response = pusher.push(body=body, content_type=multipart)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code
    assert db.session.scalar(select(func.count()).select_from(PartnerBatch)) == 0
    assert db.session.scalar(select(func.count()).select_from(ActivityRecord)) == 0


def test_an_upload_over_the_limit_is_refused(transit, app):
    _, pusher = transit
    app.config["BATCH_MAX_RECORDS"] = 3
    try:
        body, multipart = _multipart(
            ("file", as_json([bus(f"y-{i}") for i in range(4)]), "day.json", "application/json")
        )
        response = pusher.push(body=body, content_type=multipart)
    finally:
        app.config["BATCH_MAX_RECORDS"] = 10000
    assert response.status_code == 413 and response.get_json()["code"] == "batch_too_large"


def test_the_signature_covers_the_whole_multipart_body(client, transit, rider, db):
    """The body hash is over the request body as sent: signing only the file, or another
    file in the same envelope, is refused."""
    partner, pusher = transit
    body, multipart = _multipart(("file", CSV_TRIPS % (b"s", b"s"), "day.csv", "text/csv"))
    forged = body.replace(b"8.2", b"9.9")
    headers = signed_headers(
        pusher.key_id, pusher.secret, "POST", BATCHES, body, content_type=multipart
    )
    assert client.post(BATCHES, data=forged, headers=headers).status_code == 401
    file_only = signed_headers(
        pusher.key_id,
        pusher.secret,
        "POST",
        BATCHES,
        CSV_TRIPS % (b"s", b"s"),
        content_type=multipart,
    )
    refused = client.post(BATCHES, data=body, headers=file_only)
    assert refused.status_code == 401 and refused.get_json()["code"] == "invalid_signature"
    assert db.session.scalar(select(func.count()).select_from(PartnerBatch)) == 0
    accepted = client.post(BATCHES, data=body, headers=headers)  # the untouched request
    assert accepted.status_code == 202, accepted.get_json()


def test_outcomes_page_through_stored_records_then_resends(transit, rider):
    _, pusher = transit
    pusher.push(
        [bus("q-1", start=f"{DAY}T07:00:00+08:00", end=f"{DAY}T07:20:00+08:00"), bus("q-2")]
    )
    again = pusher.push(
        body=as_json(
            [
                bus("q-3", start=f"{DAY}T10:00:00+08:00", end=f"{DAY}T10:20:00+08:00"),
                bus("q-1"),
                bus("q-3"),
                bus("q-2"),
            ]
        )
    ).get_json()["batch_id"]
    pages = [pusher.get(again, f"page={page}&per_page=2").get_json() for page in (1, 2, 3)]
    assert [[(o["record_id"], o["outcome"]) for o in p["outcomes"]] for p in pages] == [
        [("q-3", "credited"), ("q-3", "duplicate")],
        [("q-1", "duplicate"), ("q-2", "duplicate")],
        [],
    ]
    assert all(p["resent"] == {"count": 3, "listed": 3} for p in pages)
