"""Programme-wide settings: read with a default, changed by administrators (audited)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..audit.services import record_audit
from ..errors import DomainError
from ..extensions import db
from ..timeutil import utcnow
from .models import ProgrammeSetting

# key -> (default, description) ; integers only for now
SETTINGS: dict[str, tuple[int, Any]] = {
    "daily_points_cap": (
        0,
        _l(
            "Most points one resident can earn per day across all actions "
            "(0 = no programme-wide cap; each methodology's caps still apply)"
        ),
    ),
    "annual_budget_yuan": (
        0,
        _l(
            "Yuan the city budgets each calendar year for the redemptions it funds (0 = no "
            "budget); the dashboard forecasts the month it runs out"
        ),
    ),
    "crediting_paused": (
        0,
        _l("1 pauses all crediting (actions wait as pending); 0 credits normally"),
    ),
}


class InvalidSetting(DomainError):
    code = "invalid_setting"
    status = 422
    message = _l("Unknown setting, or the value is not a whole number of at least 0.")


def get_setting(key: str) -> int:
    default = SETTINGS[key][0]
    row = db.session.get(ProgrammeSetting, key)
    return int(row.value) if row is not None else default


def get_settings(*keys: str) -> dict[str, int]:
    """Several settings in one statement (verification reads two per claim)."""
    values = {key: SETTINGS[key][0] for key in keys}
    # the two columns, not the ORM rows: a write reads them once per request
    table = ProgrammeSetting.__table__
    for key, value in db.session.execute(
        select(table.c.key, table.c.value).where(table.c.key.in_(keys))
    ):
        values[key] = int(value)
    return values


def set_setting(actor: Any, key: str, value: Any) -> int:
    if key not in SETTINGS:
        raise InvalidSetting()
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidSetting() from None
    if number < 0:
        raise InvalidSetting()
    row = db.session.get(ProgrammeSetting, key)
    old = row.value if row else str(SETTINGS[key][0])
    if row is None:
        row = ProgrammeSetting(key=key, value=str(number))
        db.session.add(row)
    row.value, row.updated_at = str(number), utcnow()
    row.updated_by_id = getattr(actor, "id", None)
    record_audit(actor, "settings.change", "setting", key, old=old, new=str(number))
    db.session.commit()
    return number
