"""The methodology contract: how an activity becomes a verified reduction.

Pure Python: nothing here may import flask, sqlalchemy or the backend. Quantities are
integer grams CO2e; intermediate arithmetic uses ``Decimal`` and is rounded once at the end
(DESIGN.md invariant 4), and the rounding is written in the steps. The rounding rule belongs
to the module version (``Methodology.rounding``): module versions 1.x round each total
half-up, as they were approved; later versions credit ``⌊baseline − project⌋``, never
rounding a credit up, and show baseline and project with the decimals they really have.

A methodology is a class with class-level metadata (code, version, names, parameters
with cited sources) and two pure functions of (activity, params):

* ``validate`` returns a list of ``Rejection`` (empty when the activity is acceptable);
* ``quantify`` returns a ``Quantification`` with baseline, project and reduction grams and
  the ordered arithmetic steps a resident can read.

``params`` is a plain mapping of parameter name -> ``Decimal`` (the frozen parameter set of
one approved version); ``default_params()`` gives the module's published defaults.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# Bounds of what an activity may say, far beyond any real action but well inside what the
# arithmetic handles exactly (Decimal's 28 digits, datetime's years 1-9999 after time zones).
MAX_QUANTITY = Decimal(10) ** 9
# The document of a parameter the programme proposes where nothing is published (marked
# illustrative: a later version replaces it with a local or official figure).
PROGRAMME_PROPOSAL = "衢州碳普惠平台提议值 Quzhou programme proposal (no published value)"
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200
# The rounding rules a module version can follow (``Methodology.rounding``).
HALF_UP = "half_up"  # each total rounded half-up (module versions 1.x, approved under it)
FLOOR = "floor"  # the credit is ⌊baseline − project⌋: never rounded up (DESIGN.md inv. 4)
Activity = Mapping[str, Any]
Params = Mapping[str, Decimal]


@dataclass(frozen=True)
class Text:
    """A user-facing text in both supported languages."""

    zh_CN: str
    en: str

    def get(self, locale: str | None) -> str:
        return self.en if (locale or "").startswith("en") else self.zh_CN

    def as_dict(self) -> dict[str, str]:
        return {"zh_CN": self.zh_CN, "en": self.en}


@dataclass(frozen=True)
class Source:
    """Where a number comes from: document, year and evidence grade (A-D, see the reference).

    ``illustrative`` marks proposed defaults that must be replaced by a new version once a
    local or official figure is available.
    """

    document: str
    year: int
    grade: str
    note: str = ""
    illustrative: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "year": self.year,
            "grade": self.grade,
            "note": self.note,
            "illustrative": self.illustrative,
        }


@dataclass(frozen=True)
class Parameter:
    """One named number of a methodology, with unit, source and the bounds it may take.

    ``minimum``/``maximum`` (inclusive) are checked on every proposed version. Where they
    are not declared, the published default's sign is part of the parameter: a default of 0
    or more (an emission factor, a distance, a speed, a cap, a share) may never be negative
    (see ``bounds``; shares are also kept within [0, 1] by the modules' ``param_rules``). A
    factor that may take either sign (an incineration factor with energy recovery) is
    declared ``signed``.
    """

    name: str
    value: Decimal
    unit: str
    source: Source
    label: Text
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    signed: bool = False

    def bounds(self) -> tuple[Decimal | None, Decimal | None]:
        """The inclusive (minimum, maximum) a value of this parameter must respect."""
        low, high = self.minimum, self.maximum
        if low is None and not self.signed and self.value >= 0:
            low = Decimal(0)  # a non-negative published default: the sign is part of it
        return low, high

    def problems(self, value: Decimal) -> list[str]:
        """Why ``value`` cannot be this parameter's (empty when it is within bounds)."""
        low, high = self.bounds()
        out = []
        if low is not None and value < low:
            out.append(f"{self.name} must be at least {format(low, 'f')} {self.unit}")
        if high is not None and value > high:
            out.append(f"{self.name} must be at most {format(high, 'f')} {self.unit}")
        return out

    def as_dict(self) -> dict[str, Any]:
        low, high = self.bounds()
        return {
            "name": self.name,
            "value": str(self.value),
            "unit": self.unit,
            "label": self.label.as_dict(),
            "source": self.source.as_dict(),
            "minimum": None if low is None else str(low),
            "maximum": None if high is None else str(high),
        }


@dataclass(frozen=True)
class Rejection:
    """Why an activity earns nothing: a stable machine code and a bilingual reason."""

    code: str
    reason: Text

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason.as_dict()}


@dataclass(frozen=True)
class Step:
    """One line of the arithmetic, e.g. ``EF_BL - EF_bus = 150 - 60 = 90 g/pkm``."""

    label: Text
    expression: str
    value: str
    unit: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label.as_dict(),
            "expression": self.expression,
            "value": self.value,
            "unit": self.unit,
        }


@dataclass(frozen=True)
class Quantification:
    """The result of quantifying one activity, in integer grams CO2e."""

    baseline_g: int
    project_g: int
    reduction_g: int
    steps: tuple[Step, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "baseline_g": self.baseline_g,
            "project_g": self.project_g,
            "reduction_g": self.reduction_g,
            "steps": [s.as_dict() for s in self.steps],
        }


@dataclass(frozen=True)
class Window:
    """The real-world time span of an action, used to detect the same action twice."""

    start: datetime
    end: datetime

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end


class ActivityError(ValueError):
    """The activity data is malformed (missing field, wrong type): not a rule rejection."""

    def __init__(self, field_name: str, message: Text) -> None:
        super().__init__(f"{field_name}: {message.en}")
        self.field = field_name
        self.message = message


class Methodology(ABC):
    """Base class of every quantification module.

    Subclasses set the class attributes and implement ``validate``, ``quantify`` and
    ``window``. They must be deterministic: the same activity and params give the same
    grams, forever, which is what makes ``recompute --check`` possible.
    """

    code: ClassVar[str]
    version: ClassVar[str]
    name: ClassVar[Text]
    summary: ClassVar[Text]
    follows: ClassVar[str]  # the published methodology this module implements
    dedupe_group: ClassVar[str]  # actions of one group that overlap in time are one action
    activity_schema: ClassVar[dict[str, Any]]  # JSON Schema of the activity contract
    parameters: ClassVar[tuple[Parameter, ...]]
    # The activity fields ``quantify`` reads, when it reads only some (a trip's mode and
    # distance, not its times): results may then be reused for activities that agree on
    # them. None: every field may matter. tests/methodologies/test_methodologies_contract.py
    # checks each module reads no other field.
    quantity_fields: ClassVar[tuple[str, ...] | None] = None
    # Who may report the action, by kind (the platform's partner and merchant kinds, as plain
    # strings): the data partners whose batches carry it, and the merchants whose counter
    # staff confirm it. A methodology with partner kinds is a resident action (points).
    partner_kinds: ClassVar[tuple[str, ...]] = ()
    counter_kinds: ClassVar[tuple[str, ...]] = ()
    # How the totals become whole grams (HALF_UP or FLOOR): part of the module version, so a
    # version approved under one rule keeps recomputing under it.
    rounding: ClassVar[str] = HALF_UP

    @classmethod
    def default_params(cls) -> dict[str, Decimal]:
        return {p.name: p.value for p in cls.parameters}

    @classmethod
    def parameter(cls, name: str) -> Parameter:
        for p in cls.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> list[str]:
        """Problems with a proposed parameter set (empty when it can be approved).

        Every declared parameter must be present as a finite number and nothing else may be;
        modules add their own rules (shares summing to 1, switches being 0 or 1) in
        ``param_rules``.
        """
        known = {p.name for p in cls.parameters}
        problems = [f"unknown parameter {name}" for name in sorted(set(params) - known)]
        problems += [f"missing parameter {name}" for name in sorted(known - set(params))]
        parsed: dict[str, Decimal] = {}
        for name in sorted(known & set(params)):
            try:
                value = Decimal(str(params[name]))
            except (InvalidOperation, ValueError):
                problems.append(f"{name} is not a number")
                continue
            if not value.is_finite():
                problems.append(f"{name} is not a finite number")
                continue
            parsed[name] = value
        declared = {p.name: p for p in cls.parameters}
        for name, value in parsed.items():
            problems += declared[name].problems(value)
        if not problems:
            problems += cls.param_rules(parsed)
        return problems

    @classmethod
    def param_rules(cls, params: Params) -> list[str]:
        """Module-specific rules on a complete parameter set; none by default."""
        return []

    @abstractmethod
    def validate(self, activity: Activity, params: Params) -> list[Rejection]:
        """Rules of validity; raises ``ActivityError`` for malformed data."""

    @abstractmethod
    def quantify(self, activity: Activity, params: Params) -> Quantification:
        """Baseline, project and reduction grams for an activity that passed ``validate``."""

    @abstractmethod
    def window(self, activity: Activity) -> Window:
        """The time span used for cross-channel deduplication."""

    def span(self, activity: Activity) -> Window:
        """When the action itself took place (a trip's start to end, a hand-over's instant).

        The time rules (future, claim window, consent), the local day of caps and meal
        slots, and the methodology version in force are all decided by this span, never by
        the wider dedupe ``window``. Modules whose window is wider than the action override it.
        """
        return self.window(activity)

    def finish(self, baseline_g: Decimal, project_g: Decimal, steps: list[Step]) -> Quantification:
        """Close the arithmetic under this module version's rounding rule."""
        return finish(baseline_g, project_g, steps, self.rounding)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {
            "code": cls.code,
            "version": cls.version,
            "name": cls.name.as_dict(),
            "summary": cls.summary.as_dict(),
            "follows": cls.follows,
            "activity_schema": cls.activity_schema,
            "parameters": [p.as_dict() for p in cls.parameters],
        }


# --- helpers shared by the modules -------------------------------------------------------


def grams(value: Decimal) -> int:
    """Round a Decimal number of grams once, half-up, to an integer."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def floor_grams(value: Decimal) -> int:
    """The whole grams in a Decimal number of grams, rounded down (towards −∞)."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def exact(value: Decimal) -> str:
    """A Decimal with every decimal it has (no rounding, no exponent), for the steps of
    module versions that round down: what is shown is what was computed."""
    return format(value.normalize(), "f")


def fmt(value: Decimal, places: int = 4) -> str:
    """Render a Decimal for a step without float artefacts or exponent notation."""
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP).normalize()
    return format(q, "f")


def params_hash(params: Params) -> str:
    """Stable SHA-256 of a parameter set (names sorted, values as canonical strings)."""
    canonical = json.dumps(
        {k: format(Decimal(v).normalize(), "f") for k, v in params.items()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def to_decimal(
    activity: Activity, name: str, *, required: bool = True, default: Decimal | None = None
) -> Decimal:
    """Read a numeric activity field as Decimal (strings and ints accepted, via str for floats)."""
    raw = activity.get(name)
    if raw is None:
        if required and default is None:
            raise ActivityError(name, Text(f"缺少字段 {name}", f"missing field {name}"))
        return default if default is not None else Decimal(0)
    if isinstance(raw, bool):
        raise ActivityError(name, Text(f"{name} 必须是数字", f"{name} must be a number"))
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ActivityError(name, Text(f"{name} 必须是数字", f"{name} must be a number")) from None
    if not value.is_finite():
        raise ActivityError(name, Text(f"{name} 必须是有限数字", f"{name} must be a finite number"))
    if abs(value) > MAX_QUANTITY:
        raise ActivityError(
            name, Text(f"{name} 超出可处理的范围", f"{name} is out of the range handled")
        )
    return value


def parse_time(activity: Activity, name: str) -> datetime:
    """Parse an ISO 8601 timestamp; a value without offset is taken as Asia/Shanghai."""
    raw = activity.get(name)
    if raw is None:
        raise ActivityError(name, Text(f"缺少时间 {name}", f"missing timestamp {name}"))
    if isinstance(raw, datetime):
        value = raw
    else:
        try:
            value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        except ValueError:
            raise ActivityError(
                name, Text(f"{name} 不是 ISO 8601 时间", f"{name} is not an ISO 8601 timestamp")
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ActivityError(
            name,
            Text(
                f"{name} 的年份须在 {EARLIEST_YEAR}–{LATEST_YEAR} 之间",
                f"{name} must fall between {EARLIEST_YEAR} and {LATEST_YEAR}",
            ),
        )
    return value.astimezone(UTC)


def local_day(moment: datetime) -> str:
    """The Asia/Shanghai calendar day of a moment, as YYYY-MM-DD (caps are per local day)."""
    return moment.astimezone(LOCAL_TZ).date().isoformat()


def choice(
    activity: Activity, name: str, allowed: Sequence[str], *, default: str | None = None
) -> str:
    raw = activity.get(name, default)
    if raw not in allowed:
        options = ", ".join(allowed)
        raise ActivityError(
            name, Text(f"{name} 必须是 {options} 之一", f"{name} must be one of {options}")
        )
    return str(raw)


def minutes(delta: timedelta) -> Decimal:
    return Decimal(int(delta.total_seconds())) / Decimal(60)


# --- helpers for building results (shared by the resident modules) ----------------------


def reject(code: str, zh_CN: str, en: str) -> Rejection:
    """A rule rejection with its stable code and bilingual reason."""
    return Rejection(code, Text(zh_CN, en))


def step(zh_CN: str, en: str, expression: str, value: Decimal | str, unit: str) -> Step:
    """One line of arithmetic; a Decimal value is rendered with ``fmt``."""
    shown = fmt(value) if isinstance(value, Decimal) else value
    return Step(Text(zh_CN, en), expression, shown, unit)


def as_mapping(value: object, name: str = "activity") -> Mapping[str, Any]:
    """``value`` as a JSON object, or ``ActivityError`` (e.g. a list where an object belongs)."""
    if not isinstance(value, Mapping):
        raise ActivityError(name, Text(f"{name} 必须是 JSON 对象", f"{name} must be a JSON object"))
    return value


def flag(activity: Activity, name: str, *, default: bool) -> bool:
    """An optional boolean field (JSON true/false, or "true"/"false" text from CSV)."""
    raw = activity.get(name)
    if raw is None:
        return default
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"  # CSV batches carry booleans as text
    if not isinstance(raw, bool):
        raise ActivityError(
            name, Text(f"{name} 必须是 true 或 false", f"{name} must be true or false")
        )
    return raw


def term(value: Decimal) -> str:
    """``fmt`` for a term inside an expression: negative values in parentheses."""
    return f"({fmt(value)})" if value < 0 else fmt(value)


def seconds(delta: timedelta) -> Decimal:
    """Exact length of a time span in seconds (microsecond resolution)."""
    return Decimal(delta // timedelta(microseconds=1)) / Decimal(1_000_000)


def share_problems(params: Params, names: Sequence[str]) -> list[str]:
    """``param_rules`` helper: shares must lie in [0, 1] and add up to exactly 1."""
    problems = [f"{n} must be between 0 and 1" for n in names if not 0 <= params[n] <= 1]
    total = sum((params[n] for n in names), Decimal(0))
    if total != Decimal(1):
        problems.append(f"{', '.join(names)} must sum to 1, not {fmt(total)}")
    return problems


def check_shares(params: Params, names: Sequence[str]) -> Decimal:
    """Sum of the share parameters ``names``; ``ValueError`` unless they add up to exactly 1."""
    total = sum((params[n] for n in names), Decimal(0))
    if total != Decimal(1):
        raise ValueError(f"shares {', '.join(names)} must sum to 1, got {total}")
    return total


def finish(
    baseline_g: Decimal, project_g: Decimal, steps: list[Step], rounding: str = HALF_UP
) -> Quantification:
    """Close the arithmetic: ER = BE - PE, floored at 0, then made whole grams once.

    ``HALF_UP`` (module versions 1.x): each total rounded half-up, as approved then.
    ``FLOOR``: the credit is ⌊BE − PE⌋ computed exactly; the steps show BE, PE and BE − PE
    with all their decimals, so what a resident reads adds up. The stored totals are then
    ⌊BE⌋ and ⌈PE⌉ (both on the conservative side).
    """
    if rounding == FLOOR:
        return _finish_floor(baseline_g, project_g, steps)
    raw = baseline_g - project_g
    steps.append(
        step(
            "减排量 = 基准线排放 - 项目排放",
            "Reduction = baseline - project emissions",
            f"{fmt(baseline_g)} - {term(project_g)}",
            raw,
            "gCO2e",
        )
    )
    reduction = raw
    if raw < 0:
        reduction = Decimal(0)
        steps.append(
            step(
                "基准线排放低于项目排放，减排量记为 0（不会倒扣）",
                "Baseline is below project emissions: the reduction is 0, never negative",
                f"max(0, {fmt(raw)})",
                reduction,
                "gCO2e",
            )
        )
    b, p, r = grams(baseline_g), grams(project_g), grams(reduction)
    steps.append(
        step(
            "每项合计只取整一次（四舍五入到整克）",
            "Each total is rounded once, half-up, to whole grams",
            f"baseline {fmt(baseline_g)} → {b}; project {fmt(project_g)} → {p}; "
            f"reduction {fmt(reduction)} → {r}",
            str(r),
            "gCO2e",
        )
    )
    return Quantification(baseline_g=b, project_g=p, reduction_g=r, steps=tuple(steps))


def _finish_floor(baseline_g: Decimal, project_g: Decimal, steps: list[Step]) -> Quantification:
    raw = baseline_g - project_g
    pj = f"({exact(project_g)})" if project_g < 0 else exact(project_g)
    steps.append(
        Step(
            Text("减排量 = 基准线排放 - 项目排放", "Reduction = baseline - project emissions"),
            f"{exact(baseline_g)} - {pj}",
            exact(raw),
            "gCO2e",
        )
    )
    reduction = raw
    if raw < 0:
        reduction = Decimal(0)
        steps.append(
            Step(
                Text(
                    "基准线排放低于项目排放，减排量记为 0（不会倒扣）",
                    "Baseline is below project emissions: the reduction is 0, never negative",
                ),
                f"max(0, {exact(raw)})",
                "0",
                "gCO2e",
            )
        )
    r = floor_grams(reduction)
    steps.append(
        Step(
            Text(
                "只取整一次，向下取整到整克（从不向上进位）",
                "Rounded once, down to whole grams (never up)",
            ),
            f"⌊{exact(reduction)}⌋",
            str(r),
            "gCO2e",
        )
    )
    b = floor_grams(baseline_g)
    p = int(project_g.to_integral_value(rounding=ROUND_CEILING))
    return Quantification(baseline_g=b, project_g=p, reduction_g=r, steps=tuple(steps))


def schema_number(description: str) -> dict[str, Any]:
    """JSON Schema of a numeric activity field (numbers, or numeric strings from CSV)."""
    return {"type": ["number", "string"], "description": description}


def schema_time(description: str) -> dict[str, Any]:
    """JSON Schema of an ISO 8601 timestamp field (no offset means Asia/Shanghai)."""
    return {"type": "string", "format": "date-time", "description": description}
