"""The demo dataset: one login per role, a merchant and a partner."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..accounts.models import Role, User
from ..accounts.services import create_user, register_resident
from ..accounts.two_factor import has_totp, install_secret
from ..actions.identities import bind_identity
from ..actions.ingest import ingest_chunk
from ..actions.models import ActivityRecord, BatchStatus, PartnerBatch
from ..events.models import Event, FootprintStage
from ..events.services import create_event, record_footprint
from ..extensions import db
from ..merchants.models import Merchant, MerchantKind
from ..methodology_versions.models import MethodologyVersion, VersionStatus
from ..methodology_versions.services import (
    approve_version,
    offer_module_versions,
    seed_versions,
    submit_version,
)
from ..partners.models import Partner
from ..partners.services import create_partner
from ..rewards.models import Offer, OfferStatus
from ..timeutil import LOCAL_TZ, utcnow

DEMO_PASSWORD = "demo2026"  # noqa: S105 - printed demo logins, refused in production
DEMO_USERS = [
    # (role, phone, nickname)
    (Role.RESIDENT, "13800000001", "绿色出行者"),
    (Role.RESIDENT, "13800000002", "光盘达人"),
    (Role.MERCHANT_STAFF, "13800000011", "书店店员"),
    (Role.ORGANISER, "13800000021", "活动主办方"),
    (Role.ADMIN, "13800000031", "管理员甲"),
    (Role.ADMIN, "13800000032", "管理员乙"),
]
DEMO_MERCHANT = {
    "name": "衢州书房·南孔书屋",
    "district": "柯城区",
    "address": "衢州市柯城区府山街道",
    "category": "书店",
    "contact": "0570-0000000",
}
DEMO_PARTNER = ("quzhou-bus", "衢州公交集团", "transit")
DEMO_STATION = {
    "name": "虎哥回收·府山站",
    "district": "柯城区",
    "address": "衢州市柯城区府山街道",
    "category": "再生资源回收",
    "contact": "0570-1111111",
}
DEMO_ATTENDANT = ("13800000012", "回收站值守员")
DEMO_CARD = "QZ00012345"
# The demo administrators' authenticator key, in development only, so a developer can sign in
# (add it to an authenticator app, or run ``flask admins totp-code PHONE``). Production
# administrators set up their own key on the setup page at their first sign-in.
DEMO_TOTP_SECRET = "QZCARBONDEMOADMINTOTPKEY"  # noqa: S105 - development demo only


def _user(phone: str) -> User | None:
    return db.session.scalar(select(User).where(User.phone == phone))


def load_demo() -> int:
    """Create whatever of the demo dataset is missing; returns how many objects were added."""
    created = 0
    merchant = db.session.scalar(select(Merchant).where(Merchant.name == DEMO_MERCHANT["name"]))
    if merchant is None:
        merchant = Merchant(**DEMO_MERCHANT)
        db.session.add(merchant)
        db.session.commit()
        created += 1
    for role, phone, nickname in DEMO_USERS:
        if _user(phone) is not None:
            continue
        if role is Role.RESIDENT:
            register_resident(phone, DEMO_PASSWORD, "柯城区", nickname)
        else:
            create_user(
                role,
                phone,
                DEMO_PASSWORD,
                nickname=nickname,
                merchant_id=merchant.id if role is Role.MERCHANT_STAFF else None,
            )
        created += 1
    created += seed_versions()
    created += _demo_module_versions()
    created += _demo_offers(merchant)
    code, name, kind = DEMO_PARTNER
    if db.session.scalar(select(Partner.id).where(Partner.code == code)) is None:
        _, key_id, secret = create_partner(code, name, kind)
        print(f"demo partner {code}: key_id={key_id} secret={secret} (shown once)")
        created += 1
    created += _demo_station()
    created += _demo_trips()
    created += _demo_event()
    _demo_second_factor()
    return created


def _demo_module_versions() -> int:
    """The newer module versions (2.0.0: credits rounded down; corrected composting factor)
    offered as drafts, sent for review by one demo administrator and approved by the other
    (four eyes), in force from now: earlier actions keep the version of their time."""
    offered = offer_module_versions()
    proposer, reviewer = (_user(phone) for role, phone, _ in DEMO_USERS if role is Role.ADMIN)
    assert proposer is not None and reviewer is not None
    drafts = db.session.scalars(
        select(MethodologyVersion).where(
            MethodologyVersion.status == VersionStatus.DRAFT,
            MethodologyVersion.proposed_by_id.is_(None),
        )
    ).all()
    for draft in drafts:
        submit_version(proposer, draft.id)
        approve_version(reviewer, draft.id, "demo: module 2.0.0 approved (rounds down)")
    return offered


def _demo_development() -> bool:
    return bool(current_app.config["APP_ENV"] == "development")


def _demo_second_factor() -> None:
    """Development only: the demo administrators get the known authenticator key."""
    if not _demo_development():
        return
    for role, phone, _nickname in DEMO_USERS:
        user = _user(phone)
        if role is Role.ADMIN and user is not None and not has_totp(user):
            install_secret(user, DEMO_TOTP_SECRET)


def _demo_station() -> int:
    created = 0
    station = db.session.scalar(select(Merchant).where(Merchant.name == DEMO_STATION["name"]))
    if station is None:
        station = Merchant(kind=MerchantKind.WASTE_STATION, **DEMO_STATION)
        db.session.add(station)
        db.session.commit()
        created += 1
    phone, nickname = DEMO_ATTENDANT
    if _user(phone) is None:
        create_user(
            Role.MERCHANT_STAFF, phone, DEMO_PASSWORD, nickname=nickname, merchant_id=station.id
        )
        created += 1
    return created


def _demo_trips() -> int:
    """Bind the demo resident's bus card and credit a week of trips through the real pipeline."""
    resident = _user(DEMO_USERS[0][1])
    partner = db.session.scalar(select(Partner).where(Partner.code == DEMO_PARTNER[0]))
    if (
        resident is None
        or partner is None
        or db.session.scalar(
            select(ActivityRecord.id).where(ActivityRecord.partner_record_id == "demo-0")
        )
    ):
        return 0
    bind_identity(resident, partner.code, DEMO_CARD)
    today = utcnow().astimezone(LOCAL_TZ).replace(hour=8, minute=0, second=0, microsecond=0)
    records = []
    for day in range(1, 8):
        start = today - timedelta(days=day)
        for i, (hour, km) in enumerate(((0, 6.5), (10, 6.8))):
            begin = start + timedelta(hours=hour)
            records.append(
                {
                    "record_id": f"demo-{len(records)}",
                    "action": "public_transit",
                    "identity": DEMO_CARD,
                    "activity": {
                        "mode": "bus",
                        "distance_km": km + i,
                        "started_at": begin.isoformat(),
                        "ended_at": (begin + timedelta(minutes=22)).isoformat(),
                    },
                }
            )
    batch = PartnerBatch(
        partner_id=partner.id,
        status=BatchStatus.PROCESSING,
        source="file",
        total=len(records),
        processed=0,
        resent=[],
    )
    db.session.add(batch)
    db.session.commit()
    ingest_chunk(partner, batch, records)
    batch.status = BatchStatus.DONE
    batch.finished_at = utcnow()
    db.session.commit()
    return len(records)


def logins_text() -> str:
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    labels = {
        Role.RESIDENT: "resident",
        Role.MERCHANT_STAFF: "merchant staff",
        Role.ORGANISER: "organiser",
        Role.ADMIN: "administrator",
    }
    seen: set[Role] = set()
    for role, phone, nickname in DEMO_USERS:
        if role in seen and role is not Role.ADMIN:
            continue
        seen.add(role)
        lines.append(f"  {labels[role]:<15} {phone}  ({nickname})")
    lines.insert(3, f"  {'station staff':<15} {DEMO_ATTENDANT[0]}  ({DEMO_ATTENDANT[1]})")
    if _demo_development():
        lines.append(
            f"  administrators' authenticator key (development only): {DEMO_TOTP_SECRET}\n"
            "  current code: flask admins totp-code 13800000031"
        )
    return "\n".join(lines)


DEMO_OFFERS = [
    {
        "title_zh": "环保帆布袋",
        "title_en": "Canvas tote bag",
        "points_price": 800,
        "stock": 50,
        "description_zh": "衢州书房定制帆布袋，凭券到店领取。",
        "description_en": "A Quzhou Study canvas bag; collect it at the shop with your voucher.",
    },
    {
        "title_zh": "咖啡一杯（自带杯）",
        "title_en": "A coffee (bring your own cup)",
        "points_price": 300,
        "stock": 200,
        "per_resident_limit": 3,
        "description_zh": "自带杯子即可兑换一杯美式咖啡。",
        "description_en": "Bring your own cup and get an americano.",
    },
]


def _demo_offers(merchant: Merchant) -> int:
    created = 0
    for spec in DEMO_OFFERS:
        exists = db.session.scalar(select(Offer.id).where(Offer.title_zh == spec["title_zh"]))
        if exists is not None:
            continue
        db.session.add(
            Offer(
                merchant_id=merchant.id,
                status=OfferStatus.ACTIVE,
                valid_from=utcnow() - timedelta(days=1),
                valid_until=utcnow() + timedelta(days=365),
                **{"per_resident_limit": 1, **spec},
            )
        )
        created += 1
    db.session.commit()
    return created


DEMO_EVENT = {
    "name": "2027 衢州数字经济大会（演示）",
    "venue": "衢州国际会议中心",
    "district": "柯城区",
    "starts_on": "2027-05-20",
    "ends_on": "2027-05-21",
    "expected_participants": 500,
}
# The planned data of events_forest.md §5's worked example (≈ 39.5 t CO2e).
DEMO_EVENT_LINES = [
    {"category": "purchased_energy", "kind": "electricity", "amount": 20000},
    {"category": "travel", "kind": "hsr", "travellers": 300, "trips": 2, "distance_km": 300},
    {"category": "travel", "kind": "car", "travellers": 200, "trips": 2, "distance_km": 80},
    {"category": "accommodation", "kind": "hotel", "amount": 400},
    {"category": "catering", "kind": "meal", "amount": 3000},
]


def _demo_event() -> int:
    """A carbon-neutral event for the demo organiser, with its planned activity data."""
    organiser = _user("13800000021")
    if organiser is None:
        return 0
    exists = db.session.scalar(
        select(Event.id).where(Event.organiser_id == organiser.id, Event.name == DEMO_EVENT["name"])
    )
    if exists is not None:
        return 0
    event = create_event(organiser, DEMO_EVENT)
    record_footprint(organiser, event.id, FootprintStage.PLANNED, DEMO_EVENT_LINES)
    return 1
