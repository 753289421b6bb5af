"""Exact fixed-point arithmetic on polars columns, for the modules' batch forms.

The scalar forms compute with ``Decimal`` in its default context (28 significant digits,
so a product or sum is exact as long as its coefficient has at most 28 digits) and round
once at the end (``base.finish``). The batch forms redo that arithmetic on whole columns in
``Int128`` fixed point: every number becomes an integer mantissa at a fixed scale (a count
of decimal places), products add scales, and the final rounding is integer division.

A row is given a value only when the batch form can prove the scalar form computes exactly
the same thing:

* its numbers are plain decimal texts (``[+-]digits[.digits]``, ASCII digits, at most
  ``INT_DIGITS`` before and ``SCALE`` after the point): anything else (exponents, spaces,
  underscores, other digits, which ``Decimal`` would also read) is left to the scalar form;
* every intermediate value ``v`` of the scalar arithmetic has ``|v| × 10^E < 10^28`` where
  ``10^-E`` is the smallest unit of any operand of that row (trailing zeros left out): then
  every exact intermediate has at most 28 significant digits, so no ``Decimal`` operation of
  the row changes a value by rounding (it may drop trailing zeros, which changes nothing),
  and the exact integer result is the scalar one (see ``exact_enough``);
* the totals stay below 10^``MAX_GRAMS_DIGITS`` grams (what the steps' formatting handles
  and Int64 holds).

Rows that fail any of this are null, and the caller asks the scalar form.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import polars as pl

from .base import FLOOR, QUANTITY_COLUMNS, UTC_TIME

I128 = pl.Int128
SCALE = 20  # decimal places a number of a batch may have (its mantissa's scale)
INT_DIGITS = 10  # digits before the point (the scalar forms refuse |x| > 10^9 anyway)
MAX_DIGITS = 28  # Decimal's default precision
MAX_GRAMS_DIGITS = 18  # |grams| < 10^18: fits Int64, and the steps' 4-place rendering
# An Int128 holds 38 digits; the modules check their bounds against this before multiplying.
SAFE_DIGITS = 37
NUMBER = rf"([+-]?)([0-9]{{1,{INT_DIGITS}}})(?:\.([0-9]{{1,{SCALE}}}))?"
_NUMBER_GROUPS = rf"^{NUMBER}$"
# The same without capture groups, for patterns that embed it.
PLAIN_NUMBER = rf"[+-]?[0-9]{{1,{INT_DIGITS}}}(?:\.[0-9]{{1,{SCALE}}})?"


def lit(value: int) -> pl.Expr:
    return pl.lit(value, dtype=I128)


def scale_of(value: Decimal) -> int:
    """Decimal places a finite Decimal needs (trailing zeros left out; 0 for an integer)."""
    _, coefficient, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    places = -exponent
    while places > 0 and coefficient and coefficient[-1] == 0:
        coefficient, places = coefficient[:-1], places - 1
    return max(0, places)


def mantissa(value: Decimal, scale: int) -> int:
    """``value × 10^scale`` as an int, in integer arithmetic (no Decimal context, so never
    rounded); ``ValueError`` unless ``scale >= scale_of(value)``."""
    if scale < scale_of(value):
        raise ValueError(f"{value} has more than {scale} decimal places")
    sign, coefficient_digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, coefficient_digits)) or "0")
    shift = exponent + scale
    whole: int = coefficient * 10**shift if shift >= 0 else coefficient // 10**-shift
    return -whole if sign else whole


def digits(value: int) -> int:
    """Decimal digits of ``|value|`` (0 has none)."""
    return len(str(abs(value))) if value else 0


def with_numbers(frame: pl.DataFrame, sources: Mapping[str, pl.Expr]) -> pl.DataFrame:
    """``frame`` with, for each ``name: text``, an Int128 column ``name`` (the number's
    mantissa at ``SCALE``) and an Int32 column ``name_places`` (the decimals it needs,
    trailing zeros left out); both null where the text is not a plain decimal number of the
    batch range (``|x| <= 10^9``, what ``to_decimal`` accepts). Built in stages, so each
    text is matched once."""
    frame = frame.with_columns(
        text.str.extract_groups(_NUMBER_GROUPS).alias(f"{name}_g") for name, text in sources.items()
    )
    stage = []
    for name in sources:
        g = pl.col(f"{name}_g")
        fraction = g.struct.field("3").fill_null("")
        stage += [
            (g.struct.field("1") == "-").alias(f"{name}_neg"),
            pl.concat_str(g.struct.field("2"), fraction.str.pad_end(SCALE, "0"))
            .cast(I128, strict=False)
            .alias(f"{name}_abs"),
            fraction.str.strip_chars_end("0").str.len_chars().cast(pl.Int32).alias(f"{name}_p"),
        ]
    frame = frame.with_columns(stage)
    stage = []
    for name in sources:
        magnitude = pl.col(f"{name}_abs")
        in_range = magnitude <= lit(10**9 * 10**SCALE)
        value = pl.when(pl.col(f"{name}_neg")).then(lit(0) - magnitude).otherwise(magnitude)
        stage += [
            pl.when(in_range).then(value).alias(name),
            pl.when(in_range).then(pl.col(f"{name}_p")).alias(f"{name}_places"),
        ]
    frame = frame.with_columns(stage)
    return frame.drop(c for n in sources for c in (f"{n}_g", f"{n}_neg", f"{n}_abs", f"{n}_p"))


def absolute(value: pl.Expr) -> pl.Expr:
    return pl.when(value < lit(0)).then(lit(0) - value).otherwise(value)


def digit_count(value: pl.Expr) -> pl.Expr:
    """Decimal digits of a non-negative Int128 column (0 counted as one digit)."""
    return value.cast(pl.String).str.len_chars().cast(pl.Int32)


def exact_enough(magnitude: pl.Expr, scale: int, smallest_unit: pl.Expr) -> pl.Expr:
    """True where ``magnitude`` (a non-negative Int128 at ``scale``, bounding every
    intermediate value of the row) stays below 10^28 units of ``10^-smallest_unit`` (so the
    row's Decimal arithmetic never rounds) and below ``10^MAX_GRAMS_DIGITS`` grams."""
    n = digit_count(magnitude)
    return (n <= MAX_DIGITS + scale - smallest_unit) & (n <= MAX_GRAMS_DIGITS + scale)


def _half_up(value: pl.Expr, scale: int) -> pl.Expr:
    unit, half = lit(10**scale), lit(5 * 10 ** (scale - 1))
    return (
        pl.when(value >= lit(0))
        .then((value + half) // unit)
        .otherwise(lit(0) - ((lit(0) - value + half) // unit))
    )


def _floor(value: pl.Expr, scale: int) -> pl.Expr:
    return value // lit(10**scale)


def _ceil(value: pl.Expr, scale: int) -> pl.Expr:
    return lit(0) - ((lit(0) - value) // lit(10**scale))


def finish_columns(
    frame: pl.DataFrame, baseline: str, project: str, scale: int, rounding: str, ok: str
) -> pl.DataFrame:
    """``base.finish`` on columns: ``baseline`` and ``project`` are the names of exact Int128
    mantissas at ``scale`` (>= 1) in ``frame``; the three Int64 totals, null in every row
    where the Boolean column ``ok`` is not true."""
    be, pe = pl.col(baseline), pl.col(project)
    reduction = pl.when(be > pe).then(be - pe).otherwise(lit(0))
    if rounding == FLOOR:
        totals = (_floor(be, scale), _ceil(pe, scale), _floor(reduction, scale))
    else:
        totals = (_half_up(be, scale), _half_up(pe, scale), _half_up(reduction, scale))
    keep = pl.col(ok).fill_null(False)
    return frame.select(
        pl.when(keep).then(total).otherwise(None).cast(pl.Int64).alias(name)
        for name, total in zip(QUANTITY_COLUMNS, totals, strict=True)
    )


def all_null(height: int) -> pl.DataFrame:
    """The quantities of ``height`` rows all left to the scalar form."""
    return pl.DataFrame(
        {name: [None] * height for name in QUANTITY_COLUMNS},
        schema={name: pl.Int64 for name in QUANTITY_COLUMNS},
    )


def with_fields(columns: pl.DataFrame, *names: str) -> pl.DataFrame:
    """``columns`` with a String column for each of ``names``: null where the chunk lacks
    the field (so expressions can name it, and the frame keeps its height), and cast to
    String where the caller's column has another type (an all-null column, say)."""
    fields = [
        pl.lit(None, dtype=pl.String).alias(n)
        if n not in columns.columns
        else pl.col(n).cast(pl.String)
        for n in names
        if n not in columns.columns or columns.schema[n] != pl.String
    ]
    return columns.with_columns(fields) if fields else columns


# --- timestamps -------------------------------------------------------------------------------

# The ISO 8601 forms the batch forms read (``base.parse_time`` reads more, through
# ``datetime.fromisoformat``; the rest is left to it): date, "T" or space, hours and minutes,
# optional seconds with up to 6 decimals, optional "Z" or ±HH:MM offset.
_TIME = (
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([01][0-9]|2[0-3]):([0-5][0-9])"
    r"(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?"
    r"(Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))?$"
)
# Asia/Shanghai has kept UTC+8 without daylight saving since September 1991: a naive time
# from 1992 on is UTC+8 (earlier ones are left to the scalar form and its time zone data).
_FIXED_LOCAL_SINCE = 1992
_LOCAL_OFFSET_MIN = 8 * 60


def with_times(
    frame: pl.DataFrame, sources: Mapping[str, pl.Expr], earliest_year: int, latest_year: int
) -> pl.DataFrame:
    """``frame`` with, for each ``name: text``, a Datetime(us, UTC) column ``name``: the
    ISO 8601 text as ``base.parse_time`` reads it (no offset: Asia/Shanghai; the year as
    written within [earliest, latest]); null where the text is not one of the forms above,
    is not a real date, or is out of the years. Built in stages (each text matched once)."""
    frame = frame.with_columns(
        text.str.extract_groups(_TIME).alias(f"{name}_g") for name, text in sources.items()
    )
    stage = []
    for name in sources:
        g = pl.col(f"{name}_g")
        year, zone = g.struct.field("1").cast(pl.Int32), g.struct.field("8")
        wall = pl.concat_str(
            g.struct.field("1"),
            pl.lit("-"),
            g.struct.field("2"),
            pl.lit("-"),
            g.struct.field("3"),
            pl.lit(" "),
            g.struct.field("4"),
            pl.lit(":"),
            g.struct.field("5"),
            pl.lit(":"),
            g.struct.field("6").fill_null("00"),
            pl.lit("."),
            g.struct.field("7").fill_null("").str.pad_end(6, "0"),
        ).str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)
        sign = pl.when(g.struct.field("9") == "-").then(-1).otherwise(1)
        offset = sign * (
            g.struct.field("10").cast(pl.Int64) * 60 + g.struct.field("11").cast(pl.Int64)
        )
        offset_min = (
            pl.when(zone.is_null())
            .then(pl.when(year >= _FIXED_LOCAL_SINCE).then(pl.lit(_LOCAL_OFFSET_MIN, pl.Int64)))
            .when(zone == "Z")
            .then(pl.lit(0, pl.Int64))
            .otherwise(offset)
        )
        moment = (wall - pl.duration(minutes=offset_min)).dt.replace_time_zone("UTC")
        stage.append(pl.when(year.is_between(earliest_year, latest_year)).then(moment).alias(name))
    return frame.with_columns(stage).drop(f"{name}_g" for name in sources)


def whole(value: Decimal, rounding: str) -> int | None:
    """``value`` rounded to an integer "floor" or "ceiling"; None unless it is a small
    finite number with at most 6 decimals (what the batch validations compare exactly)."""
    if not value.is_finite() or scale_of(value) > 6 or abs(value) >= 10**12:
        return None
    places = scale_of(value)
    m = mantissa(value, places)
    unit: int = 10**places
    return -((-m) // unit) if rounding == "ceiling" else m // unit


def plain_text(text: pl.Expr) -> pl.Expr:
    """True where a cell holds a plain string (not JSON-looking: no list, object or bool),
    so equal cells mean equal values in the scalar form too."""
    return ~text.str.contains(r"^[\[{]") & ~text.is_in(["true", "false"])


def windows(frame: pl.DataFrame, start: pl.Expr, end: pl.Expr) -> pl.DataFrame:
    """The ``start``/``end`` columns of a batch's spans or windows (Datetime us UTC)."""
    return frame.select(start.cast(UTC_TIME).alias("start"), end.cast(UTC_TIME).alias("end"))
