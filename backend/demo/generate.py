"""Synthetic data for load tests: ``flask demo generate --residents N --records M``.

Creates N residents (one shared known password, hashed once), each bound to a bus card, a
bike-share account and a household waste card at three bench partners; a merchant with staff
and offers; and writes M partner records (JSON Lines, one partner's records per file) with a
realistic mix of trips and weighed drop-offs spread over past days within the daily limits.
Nothing here is hand-written test data: the same command feeds ``make bench`` at any size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from ..accounts.models import Role, User
from ..accounts.services import create_user, hash_password
from ..accounts.two_factor import has_totp, install_secret
from ..actions.identities import identity_hash
from ..actions.models import BindingStatus, IdentityBinding
from ..extensions import db
from ..merchants.models import Merchant, MerchantKind
from ..methodology_versions.services import seed_versions
from ..partners.models import Partner
from ..partners.services import create_partner
from ..rewards.models import Offer, OfferStatus
from ..timeutil import LOCAL_TZ, utcnow

BENCH_PASSWORD = "bench2026"  # noqa: S105 - synthetic accounts for load tests only
PHONE_BASE = 17_000_000_000
STAFF_BASE = 16_000_000_000
PARTNERS = {  # code -> (name, kind, action, identity prefix, share of the records)
    "bench-bus": ("Bench bus", "transit", "public_transit", "BUS", 0.6),
    "bench-bike": ("Bench bike", "bike_share", "bike_sharing", "BIKE", 0.25),
    "bench-waste": ("Bench waste", "waste_station", "waste_sorting", "HH", 0.15),
}
DISTRICTS = ("柯城区", "衢江区", "龙游县", "江山市", "常山县", "开化县")


@dataclass
class Generated:
    residents: int = 0
    staff: list[str] = field(default_factory=list)
    station_staff: list[str] = field(default_factory=list)
    admins: list[str] = field(default_factory=list)
    offers: list[int] = field(default_factory=list)
    partners: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (key, secret)
    files: dict[str, str] = field(default_factory=dict)  # code -> path
    records: int = 0


def resident_phone(index: int) -> str:
    return str(PHONE_BASE + index)


def _insert_users(rows: list[dict[str, Any]]) -> None:
    """Synthetic accounts in bulk, in inserts of 5,000, all with one hash of the bench
    password (argon2 once, not per account)."""
    common = {
        "password_hash": hash_password(BENCH_PASSWORD),
        "created_at": utcnow(),
        "failed_logins": 0,
        "session_version": 1,
        "locale": "zh_CN",
    }
    for start in range(0, len(rows), 5000):
        db.session.execute(insert(User), [{**common, **row} for row in rows[start : start + 5000]])
    db.session.commit()


def _residents(count: int) -> list[int]:
    """Create the missing synthetic residents in bulk; returns all their ids in order."""
    existing = (
        db.session.scalar(select(func.count()).select_from(User).where(User.phone.like("170%")))
        or 0
    )
    if existing < count:
        _insert_users(
            [
                {
                    "phone": resident_phone(i),
                    "role": Role.RESIDENT,
                    "district": DISTRICTS[i % len(DISTRICTS)],
                    "nickname": f"居民{i}",
                    "leaderboard_opt_in": i % 10 == 0,
                }
                for i in range(existing, count)
            ]
        )
    return list(
        db.session.scalars(
            select(User.id).where(User.phone.like("170%")).order_by(User.phone).limit(count)
        )
    )


def _partners(generated: Generated) -> dict[str, Partner]:
    partners = {}
    for code, (name, kind, _, _, _) in PARTNERS.items():
        partner = db.session.scalar(select(Partner).where(Partner.code == code))
        if partner is None:
            partner, key_id, secret = create_partner(code, name, kind)
            generated.partners[code] = (key_id, secret)
        partners[code] = partner
    return partners


def _bindings(partners: dict[str, Partner], resident_ids: list[int]) -> None:
    for code, partner in partners.items():
        prefix = PARTNERS[code][3]
        bound = set(
            db.session.scalars(
                select(IdentityBinding.resident_id).where(IdentityBinding.partner_id == partner.id)
            )
        )
        rows = [
            {
                "resident_id": rid,
                "partner_id": partner.id,
                "identity_hash": identity_hash(partner, f"{prefix}{i:08d}"),
                "identity_hint": f"****{i % 10000:04d}",
                "status": BindingStatus.ACTIVE,
                "consented_at": utcnow(),
            }
            for i, rid in enumerate(resident_ids)
            if rid not in bound
        ]
        for start in range(0, len(rows), 5000):
            db.session.execute(insert(IdentityBinding), rows[start : start + 5000])
        db.session.commit()


STATION_STAFF_BASE = 16_000_000_100
ADMIN_BASE = 16_000_000_900
BENCH_TOTP_SECRET = "QZCARBONBENCHADMINTOTPKEYSECRET2"  # noqa: S105 - synthetic load-test admins


def _admins(generated: Generated, count: int) -> None:
    """Administrators for the load test's dashboard persona, with a known TOTP secret."""
    for i in range(count):
        phone = str(ADMIN_BASE + i)
        user = db.session.scalar(select(User).where(User.phone == phone))
        if user is None:
            user = create_user(Role.ADMIN, phone, BENCH_PASSWORD)
        if not has_totp(user):
            install_secret(user, BENCH_TOTP_SECRET)
        generated.admins.append(phone)


def _staff(base: int, count: int, merchant_id: int) -> list[str]:
    """Staff accounts of one merchant (phones base, base + 1, ...), the missing ones created
    in bulk, as residents are."""
    phones = [str(base + i) for i in range(count)]
    have = set(db.session.scalars(select(User.phone).where(User.phone.in_(phones))))
    missing = [phone for phone in phones if phone not in have]
    if missing:
        _insert_users(
            [
                {"phone": phone, "role": Role.MERCHANT_STAFF, "merchant_id": merchant_id}
                for phone in missing
            ]
        )
    return phones


def _station(generated: Generated, staff_count: int) -> None:
    station = db.session.scalar(select(Merchant).where(Merchant.name == "Bench station"))
    if station is None:
        station = Merchant(
            name="Bench station",
            district="柯城区",
            address="bench",
            category="bench",
            contact="",
            kind=MerchantKind.WASTE_STATION,
        )
        db.session.add(station)
        db.session.commit()
    generated.station_staff += _staff(STATION_STAFF_BASE, staff_count, station.id)


def _merchant(generated: Generated, staff_count: int, offers: int) -> None:
    merchant = db.session.scalar(select(Merchant).where(Merchant.name == "Bench shop"))
    if merchant is None:
        merchant = Merchant(
            name="Bench shop",
            district="柯城区",
            address="bench",
            category="bench",
            contact="",
            kind=MerchantKind.RETAIL,
        )
        db.session.add(merchant)
        db.session.commit()
    generated.staff += _staff(STAFF_BASE, staff_count, merchant.id)
    have = list(db.session.scalars(select(Offer.id).where(Offer.merchant_id == merchant.id)))
    for i in range(len(have), offers):
        offer = Offer(
            merchant_id=merchant.id,
            title_zh=f"压测商品{i}",
            title_en=f"Bench offer {i}",
            points_price=50 + 10 * i,
            stock=10_000_000,
            per_resident_limit=1_000_000,
            status=OfferStatus.ACTIVE,
            valid_from=utcnow() - timedelta(days=1),
            valid_until=utcnow() + timedelta(days=3650),
        )
        db.session.add(offer)
        db.session.commit()
        have.append(offer.id)
    generated.offers = have


def _activity(action: str, rng: random.Random, moment: datetime) -> dict[str, object]:
    if action == "waste_sorting":
        return {
            "items": [
                {
                    "category": rng.choice(("paper", "plastic", "metal", "glass")),
                    "weight_kg": round(rng.uniform(0.5, 6), 1),
                }
            ],
            "collected_at": moment.isoformat(),
        }
    minutes = rng.randint(12, 40)
    km = round(rng.uniform(1.5, 12 if action == "public_transit" else 5), 1)
    end = moment + timedelta(minutes=minutes)
    key, kind = ("mode", "bus") if action == "public_transit" else ("bike_type", "pedal")
    return {
        key: kind,
        "distance_km": km,
        "started_at": moment.isoformat(),
        "ended_at": end.isoformat(),
    }


def synthetic_records(
    count: int, residents: int, *, seed: int = 42, start: datetime | None = None
) -> Iterator[tuple[str, dict[str, object]]]:
    """(partner code, record) pairs: each resident gets at most a few actions a day, spread
    over as many past days as the volume needs (so the daily limits are rarely the story)."""
    rng = random.Random(seed)
    day0 = (
        (start or utcnow()).astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    per_day = 3  # actions per resident per day
    codes = list(PARTNERS)
    weights = [PARTNERS[c][4] for c in codes]
    for i in range(count):
        resident = i % residents
        slot = (i // residents) % per_day
        day = 1 + i // (residents * per_day)
        code = rng.choices(codes, weights)[0]
        action = PARTNERS[code][2]
        moment = (
            day0 - timedelta(days=day) + timedelta(hours=7 + slot * 5, minutes=rng.randint(0, 50))
        )
        identity = f"{PARTNERS[code][3]}{resident:08d}"
        yield (
            code,
            {
                "record_id": f"gen-{seed}-{i}",
                "action": action,
                "identity": identity,
                "activity": _activity(action, rng, moment),
            },
        )


def write_records(
    directory: Path, count: int, residents: int, *, seed: int = 42, start: datetime | None = None
) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    handles = {
        code: (directory / f"{code}-{seed}-{count}.jsonl").open("w", encoding="utf-8")
        for code in PARTNERS
    }
    try:
        for code, record in synthetic_records(count, residents, seed=seed, start=start):
            handles[code].write(json.dumps(record, ensure_ascii=False) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    return {code: handle.name for code, handle in handles.items()}


def generate(
    residents: int,
    records: int,
    out_dir: str,
    *,
    staff: int = 4,
    offers: int = 3,
    admins: int = 8,
    seed: int = 42,
) -> Generated:
    generated = Generated(residents=residents, records=records)
    seed_versions()
    resident_ids = _residents(residents)
    partners = _partners(generated)
    _bindings(partners, resident_ids)
    _merchant(generated, staff, offers)
    _station(generated, staff)
    _admins(generated, admins)
    if records:
        generated.files = write_records(Path(out_dir), records, residents, seed=seed)
    return generated
