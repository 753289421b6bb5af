"""The counter forgives: a staff typo leaves the resident's code valid and writes nothing;
the staff member can correct or cancel an entry for a while, by reversing ledger entries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend.actions.claims import new_claim_code
from backend.actions.models import ActivityRecord, ClaimCode, Reduction
from backend.audit.models import AuditEntry
from backend.ledger.models import EntryKind, LedgerEntry
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.merchants.models import MerchantKind
from backend.methodology_versions.services import seed_versions
from backend.qr import format_short_code

from ..helpers import Auth


@pytest.fixture
def station(make, db):
    seed_versions()
    merchant = make.merchant(name="虎哥回收站", kind=MerchantKind.WASTE_STATION)
    return merchant, make.staff(merchant)


@pytest.fixture
def restaurant(make, db):
    seed_versions()
    merchant = make.merchant(name="光盘餐厅", kind=MerchantKind.RESTAURANT)
    return merchant, make.staff(merchant)


def _records(resident_id: int) -> int:
    from backend.extensions import db

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(ActivityRecord)
            .where(ActivityRecord.resident_id == resident_id)
        )
        or 0
    )


def _confirm(client, code: str, **fields: str):
    return client.post(
        "/merchant/confirm",
        data={"code": format_short_code(code), **fields},
        headers={"Accept-Language": "zh-CN"},
    )


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({}, "items", "至少"),
        ({"weight_paper": "1000"}, "weight_paper", "纸类 1000 kg"),
        ({"weight_paper": "2,5kg"}, "weight_paper", "数字"),
        ({"weight_paper": "0"}, "weight_paper", "大于 0"),
    ],
)
def test_a_weighing_typo_keeps_the_residents_code_valid(
    client, make, station, db, fields, field, words
):
    _, staff = station
    resident = make.resident()
    claim = new_claim_code(resident)
    Auth(client, make).login_page(staff)

    page = _confirm(client, claim.code, **fields)
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert f'id="{field}-error"' in html and words in html, html
    assert "未使用" in html  # the page says the code is still good
    assert 'value="' + format_short_code(claim.code) + '"' in html  # what was typed stays
    assert "weight_paper" not in html.split(f'id="{field}-error"')[1].split("</p>")[0]
    db.session.expire_all()
    assert db.session.get(ClaimCode, claim.nonce).used_at is None
    assert _records(resident.id) == 0

    fixed = _confirm(client, claim.code, weight_paper="2.5")
    assert fixed.status_code == 200
    assert "已加分" in fixed.get_data(as_text=True)
    assert _records(resident.id) == 1


def test_a_restaurant_sees_every_problem_of_its_form_at_once(client, make, restaurant, db):
    _, staff = restaurant
    resident = make.resident()
    claim = new_claim_code(resident)
    Auth(client, make).login_page(staff)
    page = _confirm(client, claim.code, kind="small_portion", diners="0")
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert 'id="diners-error"' in html and 'id="portion_reduction_kg-error"' in html
    assert "portion_reduction_kg 需要" not in html and "少点的饭菜" in html
    db.session.expire_all()
    assert db.session.get(ClaimCode, claim.nonce).used_at is None
    assert _records(resident.id) == 0


def _credited_drop_off(client, make, station, weight: str = "3"):
    _, staff = station
    resident = make.resident()
    Auth(client, make).login_page(staff)
    page = _confirm(client, new_claim_code(resident).code, weight_paper=weight)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "已加分" in html and f"纸类 {weight} kg" in html
    assert resident.masked_phone in html  # the masked resident, to check the right person
    return staff, resident


def test_a_correction_reverses_the_drop_off_and_credits_the_right_weight(client, make, station, db):
    staff, resident = _credited_drop_off(client, make, station, "3")
    first = db.session.scalar(
        select(ActivityRecord).where(ActivityRecord.resident_id == resident.id)
    )
    before = resident_balance(resident.id)
    assert before == first.reduction.points > 0

    today = client.get("/merchant").get_data(as_text=True)
    assert f"/merchant/entries/{first.id}" in today and "纸类 3 kg" in today

    form = client.get(f"/merchant/entries/{first.id}").get_data(as_text=True)
    assert 'value="3"' in form  # the entry's weight, ready to correct
    # a typo in the correction changes nothing
    bad = client.post(
        f"/merchant/entries/{first.id}", data={"do": "correct", "weight_paper": "300"}
    )
    assert bad.status_code == 422 and 'id="weight_paper-error"' in bad.get_data(as_text=True)
    assert resident_balance(resident.id) == before

    done = client.post(
        f"/merchant/entries/{first.id}", data={"do": "correct", "weight_paper": "1.5"}
    )
    assert done.status_code == 200
    assert "纸类 1.5 kg" in done.get_data(as_text=True)
    db.session.expire_all()
    records = db.session.scalars(
        select(ActivityRecord)
        .where(ActivityRecord.resident_id == resident.id)
        .order_by(ActivityRecord.id)
    ).all()
    assert [r.reason_code for r in records] == ["voided_at_counter", None]
    old, new = records
    assert old.reduction is None and new.reduction is not None
    assert new.reduction.points < before
    assert resident_balance(resident.id) == new.reduction.points
    reversal = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.REVERSAL))
    assert reversal is not None and reversal.reverses_id is not None
    assert sum(p.amount for p in reversal.postings) == 0
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "claim.correct"))
    assert reconcile().clean
    # the resident sees both, in plain words
    Auth(client, make).login_page(resident)
    mine = client.get("/actions", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "柜台已撤销" in mine and "已加分" in mine


def test_cancel_shows_what_it_takes_back_then_takes_it_back_once(client, make, station, db):
    staff, resident = _credited_drop_off(client, make, station, "2")
    record = db.session.scalar(
        select(ActivityRecord).where(ActivityRecord.resident_id == resident.id)
    )
    points = record.reduction.points
    preview = client.get(f"/merchant/entries/{record.id}").get_data(as_text=True)
    assert f"扣回 {points} 积分" in preview and resident.masked_phone in preview
    assert resident_balance(resident.id) == points  # looking changes nothing

    assert client.post(f"/merchant/entries/{record.id}", data={"do": "cancel"}).status_code == 302
    again = client.post(f"/merchant/entries/{record.id}", data={"do": "cancel"})
    assert again.status_code == 409
    db.session.expire_all()
    assert resident_balance(resident.id) == 0
    assert db.session.scalar(select(func.count()).select_from(Reduction)) == 0
    assert reconcile().clean


def test_only_the_same_staff_member_within_the_window(client, make, station, db, app):
    staff, resident = _credited_drop_off(client, make, station)
    record = db.session.scalar(
        select(ActivityRecord).where(ActivityRecord.resident_id == resident.id)
    )
    colleague = make.staff(station[0])
    Auth(client, make).login_page(colleague)
    assert client.get(f"/merchant/entries/{record.id}").status_code == 404
    Auth(client, make).login_page(staff)
    record.received_at -= timedelta(minutes=app.config["COUNTER_CORRECTION_MINUTES"] + 1)
    db.session.commit()
    page = client.post(f"/merchant/entries/{record.id}", data={"do": "cancel"})
    assert page.status_code == 409
    assert resident_balance(resident.id) == record.reduction.points


def test_a_credit_opens_with_one_plain_line_and_the_audit_detail_one_tap_away(
    client, make, station, db
):
    _staff, resident = _credited_drop_off(client, make, station, "2.5")
    record = db.session.scalar(
        select(ActivityRecord).where(ActivityRecord.resident_id == resident.id)
    )
    Auth(client, make).login_page(resident)
    for lang, line in (
        (
            "zh-CN",
            f"纸类 2.5 kg，比当作其他垃圾处理少排 {record.reduction.credited_g / 1000:g} 千克",
        ),
        ("en", f"paper 2.5 kg: {record.reduction.credited_g / 1000:g} kg CO2e less than"),
    ):
        html = client.get(f"/actions/{record.id}?lang={lang}").get_data(as_text=True)
        summary = re.search(r'<p class="calc-summary">([^<]*)</p>', html)
        assert summary and line in summary.group(1), (lang, summary)
        # the steps, symbols and hashes follow, collapsed (one tap away), never above it
        later = html[summary.end() :]
        assert re.match(r"\s*(\{#.*?#\}\s*)?<details data-audit>", later, re.S)
        assert "calc-steps" in later
