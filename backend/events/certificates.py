"""Carbon-neutral certificates: issued once the actual footprint is covered, verified by
their public code."""

from __future__ import annotations

import secrets

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..audit.services import record_audit
from ..errors import Conflict
from ..extensions import db, unit_of_work
from ..timeutil import local, utcnow
from .exceptions import AlreadyCertified, NotCertifiable, UnknownCertificate
from .models import Certificate, FootprintStage
from .queries import standing
from .services import _kg, get_event


def issue_certificate(admin: User, event_id: int) -> Certificate:
    """Issue the carbon-neutral certificate once the actual footprint is reported and the
    retirements plus the approved plan's projected removal cover it. The certificate keeps a
    snapshot of what was certified; its public page also shows the live planting status."""
    try:
        with unit_of_work():
            event = get_event(event_id)
            if event.certificate is not None:
                raise AlreadyCertified()
            state = standing(event)
            if event.footprint(FootprintStage.ACTUAL) is None:
                raise NotCertifiable(problem=_("the actual activity data has not been entered"))
            if not state.covered:
                raise NotCertifiable(
                    problem=_(
                        "retirements and the approved plan cover %(covered)s of %(total)s kg CO2e",
                        covered=_kg(state.retired_g + state.committed_g),
                        total=_kg(state.emissions_g or 0),
                    )
                )
            year = local(utcnow()).year
            prefix = f"QZCI-C-{year}-"
            count = db.session.scalar(
                select(func.count())
                .select_from(Certificate)
                .where(Certificate.serial.like(prefix + "%"))
            )
            cert = Certificate(
                event_id=event.id,
                serial=f"{prefix}{(count or 0) + 1:06d}",
                verify_code=secrets.token_urlsafe(12),
                snapshot=state.snapshot(),
                issued_by_id=admin.id,
            )
            db.session.add(cert)
            db.session.flush()
            record_audit(admin, "event.certify", "event", event.id, serial=cert.serial)
    except IntegrityError:
        # Issued twice at once, or two events took the same serial number at once.
        if get_event(event_id).certificate is not None:
            raise AlreadyCertified() from None
        raise Conflict() from None
    return cert


def certificate_by_code(code: str) -> Certificate:
    cert = db.session.scalar(select(Certificate).where(Certificate.verify_code == code))
    if cert is None:
        raise UnknownCertificate()
    return cert
