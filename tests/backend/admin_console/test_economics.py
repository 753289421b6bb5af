"""Programme economics: outstanding points as a liability, rates, the 12-month forecast and
the month the annual budget runs out, against a hand computation on a small dataset."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

import admin.dashboard
from backend.extensions import db
from backend.ledger.models import (
    CACHED_KINDS,
    Account,
    AccountKind,
    EntryKind,
    LedgerEntry,
    Posting,
)
from backend.ledger.queries import resident_balance
from backend.ledger.reconcile import reconcile
from backend.ledger.services import merchant_account, resident_account, system_account
from backend.reporting.economics import economics
from backend.rewards.models import Redemption, RedemptionStatus
from backend.settings.services import set_setting
from backend.timeutil import LOCAL_TZ

TODAY = date(2026, 12, 4)


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=10, tzinfo=LOCAL_TZ)


def _entry(kind: EntryKind, legs: list[tuple[Account, int]], at: datetime) -> None:
    """A balanced ledger entry dated ``at`` (the services post at the current time)."""
    entry = LedgerEntry(kind=kind, idempotency_key=uuid.uuid4().hex, created_at=at)
    db.session.add(entry)
    db.session.flush()
    for account, amount in legs:
        db.session.add(
            Posting(
                entry_id=entry.id, account_id=account.id, amount=amount, kind=kind, created_at=at
            )
        )
        if account.kind in CACHED_KINDS:
            account.balance += amount
    db.session.commit()


def _redeemed(resident, offer, points: int, at: datetime) -> None:
    """A fulfilled redemption and its settlement (resident -> merchant)."""
    db.session.add(
        Redemption(
            offer_id=offer.id,
            merchant_id=offer.merchant_id,
            resident_id=resident.id,
            points=points,
            status=RedemptionStatus.FULFILLED,
            short_code=uuid.uuid4().hex[:10],
            nonce=uuid.uuid4().hex,
            idempotency_key=uuid.uuid4().hex,
            created_at=at - timedelta(minutes=5),
            expires_at=at + timedelta(days=1),
            closed_at=at,
        )
    )
    _entry(
        EntryKind.SETTLE,
        [(resident_account(resident.id), -points), (merchant_account(offer.merchant_id), points)],
        at,
    )


@pytest.fixture
def dataset(make, db):
    a, b = make.resident(), make.resident()
    funded = make.merchant(name="城市书房", funded_yuan_per_point="0.02")
    unfunded = make.merchant(name="南孔咖啡")
    book = make.offer(funded, points_price=100)
    cup = make.offer(unfunded, points_price=100, funded_yuan_per_point="0.05")  # offer's rate
    issuance = system_account(AccountKind.ISSUANCE)
    expiry = system_account(AccountKind.EXPIRY)
    fund = system_account(AccountKind.FOREST_FUND)
    # before the 90-day window (it starts 2026-09-06 local)
    _entry(
        EntryKind.CREDIT, [(issuance, -10_000), (resident_account(a.id), 10_000)], _at("2026-01-15")
    )
    _redeemed(a, book, 1_000, _at("2026-01-20"))  # ¥20 (0.02 a point)
    _entry(EntryKind.EXPIRE, [(resident_account(a.id), -500), (expiry, 500)], _at("2026-02-01"))
    # inside the window
    _entry(
        EntryKind.CREDIT, [(issuance, -6_000), (resident_account(a.id), 6_000)], _at("2026-10-01")
    )
    _entry(
        EntryKind.CREDIT, [(issuance, -3_000), (resident_account(b.id), 3_000)], _at("2026-11-10")
    )
    _redeemed(a, book, 1_800, _at("2026-10-15"))  # ¥36
    _redeemed(b, cup, 900, _at("2026-11-20"))  # ¥45 at the offer's 0.05
    _entry(EntryKind.EXPIRE, [(resident_account(a.id), -450), (expiry, 450)], _at("2026-11-01"))
    _entry(EntryKind.DONATE, [(resident_account(b.id), -270), (fund, 270)], _at("2026-12-01"))
    set_setting(None, "annual_budget_yuan", 150)
    return a, b


def test_liability_rates_and_forecast_match_a_hand_computation(dataset):
    a, b = dataset
    econ = economics(TODAY)
    # all time: issued 19,000; redeemed 3,700; expired 950; donated 270
    assert econ.totals == {"issued": 19_000, "redeemed": 3_700, "expired": 950, "donated": 270}
    assert econ.outstanding == 19_000 - 3_700 - 950 - 270 == 14_080
    # what the ledger holds for residents: the same points
    assert resident_balance(a.id) + resident_balance(b.id) == 14_080
    # the window: issued 9,000, redeemed 2,700, expired 450, donated 270
    assert econ.window == {"issued": 9_000, "redeemed": 2_700, "expired": 450, "donated": 270}
    assert econ.rate("redeemed") == Decimal("0.3") and econ.rate("expired") == Decimal("0.05")
    # funded: 1,800 × 0.02 + 900 × 0.05 = 36 + 45 = ¥81 for 2,700 points: ¥0.03 a point
    assert econ.window_funded_yuan == Decimal("81.00") and econ.yuan_per_point == Decimal("0.03")
    assert econ.liability_yuan == Decimal("422.40")  # 14,080 × 0.03
    assert econ.spent_this_year_yuan == Decimal("101.00")  # ¥20 in January + ¥81
    # pace: 100 issued, 30 redeemed, 5 expired, 3 donated a day (+62 outstanding), ¥0.90 a day.
    # The 27 days left of December: 2026 spends 101 + 24.30 = ¥125.30 of ¥150: it lasts.
    first = econ.forecast[0]
    assert first.month == "2027-01" and len(econ.forecast) == 12
    assert first.flows == {"issued": 3_100, "redeemed": 930, "expired": 155, "donated": 93}
    assert first.outstanding_end == 14_080 + 27 * 62 + 31 * 62 == 17_676
    assert first.funded_yuan == Decimal("27.90")
    # 2027 budget left: Jan 122.10, Feb 96.90 (28 days), Mar 69.00, Apr 42.00, May 14.10,
    # Jun -12.90: the budget runs out in June 2027
    left = [m.budget_left_yuan for m in econ.forecast[:6]]
    assert left == [Decimal(x) for x in ("122.10", "96.90", "69.00", "42.00", "14.10", "-12.90")]
    assert econ.runs_out == "2027-06"
    assert reconcile().clean


def test_a_budget_spent_this_year_runs_out_this_month(dataset):
    set_setting(None, "annual_budget_yuan", 110)  # 101 spent + 24.30 to come in December
    assert economics(TODAY).runs_out == "2026-12"
    set_setting(None, "annual_budget_yuan", 0)  # no budget: no run-out month
    econ = economics(TODAY)
    assert econ.runs_out is None and econ.forecast[0].budget_left_yuan is None


def test_the_dashboard_and_the_monthly_report_show_them(dataset, client, auth, make, monkeypatch):
    monkeypatch.setattr(admin.dashboard, "utcnow", lambda: _at("2026-12-04"))
    auth.login_page(make.user("admin"), admin=True)
    page = client.get("/admin/?lang=en").get_data(as_text=True)
    assert "Programme economics" in page
    assert "14,080" in page and "¥422.40" in page and "2027-06" in page
    assert "17,676" in page  # outstanding at the end of January 2027
    report = client.get("/admin/reports/2026-11").get_data(as_text=True)
    assert "积分负债与预算预测" in report
    # as of the report month's last day (30 November): 270 donated on 1 December not yet
    econ = economics(date(2026, 11, 30))
    assert econ.outstanding == 14_350 and f"{econ.outstanding:,}" in report


def test_administrators_set_funding_rates(client, auth, make, db):
    merchant = make.merchant()
    offer = make.offer(merchant)
    headers = auth.bearer(make.user("admin"))
    url = f"/api/v1/admin/merchants/{merchant.id}/funding"
    assert client.put(url, json={"yuan_per_point": "0.010"}, headers=headers).get_json() == {
        "merchant_id": merchant.id,
        "yuan_per_point": "0.01",
    }
    answer = client.put(url, json={"yuan_per_point": "0.05", "offer_id": offer.id}, headers=headers)
    assert answer.status_code == 200
    db.session.refresh(offer)
    assert offer.funded_yuan_per_point == "0.05"
    for body in ({"yuan_per_point": "-1"}, {"yuan_per_point": "abc"}, {"yuan_per_point": "101"}):
        bad = client.put(url, json=body, headers=headers)
        assert bad.status_code == 422 and bad.get_json()["code"] == "invalid_funding_rate"
    other = make.offer(make.merchant())
    missing = client.put(url, json={"yuan_per_point": "1", "offer_id": other.id}, headers=headers)
    assert missing.status_code == 404
    for huge in (2**31, 2**63, -1):  # beyond any offer id: refused, never a driver overflow
        beyond = client.put(url, json={"yuan_per_point": "1", "offer_id": huge}, headers=headers)
        assert beyond.status_code == 422 and "offer_id" in str(beyond.get_json())
    cleared = client.put(url, json={"yuan_per_point": None}, headers=headers)
    assert cleared.get_json()["yuan_per_point"] is None
    db.session.refresh(merchant)
    assert merchant.funded_yuan_per_point is None and offer.funded_yuan_per_point == "0.05"
