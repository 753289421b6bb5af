"""Residents link external identities (card numbers, accounts) to partners, with consent.

Only a keyed hash of the identity is stored (HMAC with IDENTITY_KEY, salted per partner), so a
leak of the database does not reveal card numbers. Unlinking revokes consent: later records
for that identity arrive as "unmatched" and earn nothing.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..audit.services import record_audit
from ..crypto import keyed_hash
from ..extensions import db
from ..partners.models import Partner
from ..timeutil import utcnow
from .exceptions import IdentityTaken, InvalidIdentity, UnknownBinding, UnknownPartnerCode
from .models import BindingStatus, IdentityBinding

IDENTITY_RE = re.compile(r"^[A-Za-z0-9_\-]{4,64}$")


def identity_hash(partner: Partner, identity: str) -> str:
    return keyed_hash(identity.strip(), purpose=f"partner:{partner.code}")


def bind_identity(resident: User, partner_code: str, identity: str) -> IdentityBinding:
    """Link an identity at a partner and record the resident's consent to receive its data."""
    partner = db.session.scalar(select(Partner).where(Partner.code == partner_code))
    if partner is None or not partner.is_active:
        raise UnknownPartnerCode(field="partner")
    identity = re.sub(r"\s", "", identity or "")
    if not IDENTITY_RE.match(identity):
        raise InvalidIdentity(field="identity")
    binding = IdentityBinding(
        resident_id=resident.id,
        partner_id=partner.id,
        identity_hash=identity_hash(partner, identity),
        identity_hint="****" + identity[-4:],
        status=BindingStatus.ACTIVE,
    )
    try:
        with db.session.begin_nested():
            db.session.add(binding)
    except IntegrityError:
        existing = db.session.scalar(
            select(IdentityBinding).where(
                IdentityBinding.partner_id == partner.id,
                IdentityBinding.identity_hash == binding.identity_hash,
                IdentityBinding.status == BindingStatus.ACTIVE,
            )
        )
        if existing is not None and existing.resident_id == resident.id:
            db.session.rollback()
            return existing
        db.session.rollback()
        raise IdentityTaken(field="identity") from None
    record_audit(resident, "binding.create", "identity_binding", binding.id, partner=partner.code)
    db.session.commit()
    return binding


def revoke_binding(resident: User, binding_id: int) -> IdentityBinding:
    binding = db.session.get(IdentityBinding, binding_id)
    if binding is None or binding.resident_id != resident.id:
        raise UnknownBinding()
    if binding.status is BindingStatus.ACTIVE:
        binding.status = BindingStatus.REVOKED
        binding.revoked_at = utcnow()
        record_audit(resident, "binding.revoke", "identity_binding", binding.id)
        db.session.commit()
    return binding


def bindings_of(resident_id: int) -> list[IdentityBinding]:
    return list(
        db.session.scalars(
            select(IdentityBinding)
            .where(IdentityBinding.resident_id == resident_id)
            .order_by(IdentityBinding.id.desc())
        )
    )


def partners_for_binding() -> list[Partner]:
    return list(
        db.session.scalars(
            select(Partner).where(Partner.suspended_at.is_(None)).order_by(Partner.name)
        )
    )
