"""Avoiding food waste (光盘行动 / 小份菜): grams CO2e saved by food that is not wasted.

Follows the ``ER = (w_BL − w_PJ) × EF_food`` form of the group standard
《餐饮行业碳减排量核算指南 减少食物浪费》 (中华环保联合会 et al., 2022, after the FLW
Protocol), whose own factors we could not read:

    clean plate     ER = diners × w_BL × EF_food                  (w_PJ ≈ 0, verified)
    small portion   ER = min(Δportion, diners × w_BL) × EF_food   (only what would be wasted)

Meal slots are on the local (Asia/Shanghai) clock: breakfast 05:00–10:00, lunch
10:00–15:00, dinner 15:00–22:00. A meal between 22:00 and 05:00 falls in no slot
(``meal_slot`` gives "other") and is rejected with ``outside_meal_slot``: late-night
snacks are not credited, so a resident earns at most three meal credits a local day.
``window()`` is the whole slot, so a clean plate and a small portion at the same meal
overlap and are one action (``meal`` dedupe group). The slots are part of the method, not
parameters: the dedupe window must not depend on a parameter set.

Illustrative values: the plate-waste baseline 74.16 g per diner is a national survey
(grade A, not local); the food footprint 1.99 kgCO2e/kg is our derivation from the same
study (grade D); the caps are proposals (grade D).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import polars as pl

from . import columnar as col
from .base import (
    EARLIEST_YEAR,
    FLOOR,
    LATEST_YEAR,
    LOCAL_TZ,
    PROGRAMME_PROPOSAL,
    Activity,
    ActivityError,
    Methodology,
    Parameter,
    Params,
    Quantification,
    Rejection,
    Source,
    Step,
    Text,
    Window,
    as_mapping,
    fmt,
    null_windows,
    parse_time,
    reject,
    schema_number,
    schema_time,
    step,
    to_decimal,
)
from .registry import register

D = Decimal
KINDS = ("clean_plate", "small_portion")
# (slot, local start, local end); "other" is the rest of the day (22:00 to 05:00).
SLOTS: tuple[tuple[str, time, time], ...] = (
    ("breakfast", time(5), time(10)),
    ("lunch", time(10), time(15)),
    ("dinner", time(15), time(22)),
)
OTHER = "other"
_DINERS = r"^[+-]?[0-9]{1,6}(?:\.0{1,20})?$"  # a whole number of diners, on the batch path
_LOCAL = pl.duration(hours=8)  # Asia/Shanghai since 1992 (no daylight saving)
# The batch forms compare local hours: they decide only while the slots start on the hour.
_WHOLE_HOURS = all(t == time(t.hour) for _, first, last in SLOTS for t in (first, last))
_MAX_PORTION_DIGITS = 6  # |portion_reduction_kg| < 10^6 on the batch path
SLOT_ZH = {"breakfast": "早餐", "lunch": "午餐", "dinner": "晚餐", OTHER: "非用餐时段"}


def _proposal(note: str) -> Source:
    return Source(PROGRAMME_PROPOSAL, 2025, "D", note, True)


def _slot_span(moment: datetime) -> tuple[str, datetime, datetime]:
    """The meal slot of a moment and its local start and end."""
    local = moment.astimezone(LOCAL_TZ)
    day = local.date()
    for slot, start, end in SLOTS:
        if start <= local.time() < end:
            return (
                slot,
                datetime.combine(day, start, LOCAL_TZ),
                datetime.combine(day, end, LOCAL_TZ),
            )
    night_start, night_end = SLOTS[-1][2], SLOTS[0][1]
    first = day if local.time() >= night_start else day - timedelta(days=1)
    return (
        OTHER,
        datetime.combine(first, night_start, LOCAL_TZ),
        datetime.combine(first + timedelta(days=1), night_end, LOCAL_TZ),
    )


def meal_slot(activity: Activity) -> str:
    """The local meal slot of ``meal_at``: breakfast, lunch, dinner, or "other"."""
    return _slot_span(parse_time(as_mapping(activity), "meal_at"))[0]


def diners_of(activity: Activity) -> Decimal:
    """``diners`` (default 1); a non-whole number is malformed data."""
    diners = to_decimal(activity, "diners", required=False, default=D(1))
    if diners != diners.to_integral_value():
        raise ActivityError("diners", Text("用餐人数必须是整数", "diners must be a whole number"))
    return diners


def kind_of(activity: Activity) -> str:
    """``kind`` as given; missing or non-text is malformed, an unknown word is a rejection."""
    kind = activity.get("kind")
    if not isinstance(kind, str):
        raise ActivityError("kind", Text("缺少或无效的 kind", "missing or invalid kind"))
    return kind


@register
class FoodWaste(Methodology):
    """A verified clean plate or a smaller portion: food that was not wasted."""

    code: ClassVar[str] = "food_waste"
    version: ClassVar[str] = "1.0.0"
    name: ClassVar[Text] = Text("光盘与小份点餐", "Clean plates and smaller portions")
    summary: ClassVar[Text] = Text(
        "种植、运输和烹饪食物都会排放温室气体，吃剩倒掉的饭菜就白白排放了。"
        "光盘：减排量 = 用餐人数 × 人均每餐剩余量 × 每千克食物的碳足迹；"
        "小份：按少点的分量计，但不超过本来会剩下的量。每个用餐时段只计一次。",
        "Growing, transporting and cooking food emits greenhouse gases, and food thrown away "
        "wastes them. Clean plate: reduction = diners × average plate waste per meal × "
        "footprint per kg of food. Smaller portion: the portion saved counts, up to what "
        "would have been left over. One credit per meal slot.",
    )
    follows: ClassVar[str] = (
        "《餐饮行业碳减排量核算指南 减少食物浪费》 (中华环保联合会 / 阿里本地生活 / 绿普惠, "
        "2022; FLW Protocol) form ER = (w_BL − w_PJ) × EF_food; plate waste and footprint "
        "from Luo et al. 2024"
    )
    dedupe_group: ClassVar[str] = "meal"
    partner_kinds: ClassVar[tuple[str, ...]] = ("restaurant",)
    counter_kinds: ClassVar[tuple[str, ...]] = ("restaurant",)
    activity_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "food_waste activity",
        "type": "object",
        "required": ["kind", "meal_at"],
        "properties": {
            "kind": {"enum": list(KINDS)},
            "meal_at": schema_time("time of the meal (local slot decides breakfast/lunch/dinner)"),
            "diners": {
                "type": ["integer", "string"],
                "default": 1,
                "description": "people sharing the meal",
            },
            "portion_reduction_kg": schema_number(
                "for small_portion: food mass not ordered (full minus small portion)"
            ),
        },
    }
    parameters: ClassVar[tuple[Parameter, ...]] = (
        Parameter(
            "plate_waste_g_per_diner",
            D("74.16"),
            "g/person/meal",
            Source(
                "Luo, Qu, Cao, Wu 2024, Sustainable Production and Consumption, "
                "DOI 10.1016/j.spc.2024.11.017 (abstract; 1,957 restaurants)",
                2024,
                "A",
                "national, not Quzhou; Beijing 75.02, 4 cities 93",
                True,
            ),
            Text("人均每餐剩余食物（基准线）", "Plate waste per diner per meal (baseline)"),
        ),
        Parameter(
            "ef_food_kg_per_kg",
            D("1.99"),
            "kgCO2e/kg food",
            Source(
                "Own derivation from Luo et al. 2024: 47.33 MtCO2e / 23.73 Mt wasted food",
                2024,
                "D",
                "1.9945 rounded down; a clean plate is then 74.16 g × 1.99 ≈ 0.15 kg, "
                "conservative next to the 0.26 kg of the Beijing restaurant LCA",
                True,
            ),
            Text("每千克浪费食物的碳足迹", "Footprint per kg of wasted food"),
        ),
        Parameter(
            "max_diners",
            D(20),
            "persons",
            _proposal("two large banquet tables; larger groups go through event neutrality"),
            Text("单次用餐人数上限", "Maximum diners per record"),
        ),
        Parameter(
            "max_portion_reduction_kg",
            D(2),
            "kg",
            _proposal("above any plausible saving of smaller dishes for one table"),
            Text("单次少点分量上限", "Maximum portion reduction per record"),
        ),
        Parameter(
            "max_actions_per_day",
            D(3),
            "meals/day",
            _proposal("reference §4.5: one credit per meal slot, at most 3 per day"),
            Text("每日计入次数上限", "Credited meals per day"),
        ),
        Parameter(
            "daily_cap_g",
            D(1500),
            "gCO2e/day",
            _proposal("about 3 meals for a family of 3 at the default factors; per local day"),
            Text("每日减排量上限", "Daily reduction cap"),
        ),
    )

    def validate(self, activity: Activity, params: Params) -> list[Rejection]:
        activity = as_mapping(activity)
        kind = kind_of(activity)
        diners = diners_of(activity)
        slot = meal_slot(activity)
        portion = to_decimal(activity, "portion_reduction_kg", required=False)
        out: list[Rejection] = []
        if kind not in KINDS:
            out.append(
                reject(
                    "unknown_kind",
                    f"不认识的类型“{kind}”（可选：光盘 clean_plate、小份 small_portion）",
                    f"Unknown kind '{kind}' (allowed: {', '.join(KINDS)})",
                )
            )
        if diners < 1:
            out.append(
                reject(
                    "diners_below_one",
                    f"用餐人数至少为 1（收到 {fmt(diners)}）",
                    f"At least one diner is needed (got {fmt(diners)})",
                )
            )
        elif diners > params["max_diners"]:
            out.append(
                reject(
                    "diners_above_cap",
                    f"用餐人数 {fmt(diners)} 超过上限 {fmt(params['max_diners'])}",
                    f"{fmt(diners)} diners is above the limit {fmt(params['max_diners'])}",
                )
            )
        if kind == "small_portion":
            if portion <= 0:
                out.append(
                    reject(
                        "missing_portion_reduction",
                        "小份点餐需要填写大于 0 的少点分量 portion_reduction_kg",
                        "A small portion needs a positive portion_reduction_kg",
                    )
                )
            elif portion > params["max_portion_reduction_kg"]:
                cap = params["max_portion_reduction_kg"]
                out.append(
                    reject(
                        "portion_above_cap",
                        f"少点分量 {fmt(portion)} kg 超过上限 {fmt(cap)} kg",
                        f"Portion reduction {fmt(portion)} kg is above the cap {fmt(cap)} kg",
                    )
                )
        if slot == OTHER:
            out.append(
                reject(
                    "outside_meal_slot",
                    "用餐时间不在早餐（5–10 点）、午餐（10–15 点）、晚餐（15–22 点）时段内",
                    "The meal is outside the breakfast (5–10 h), lunch (10–15 h) and "
                    "dinner (15–22 h) slots",
                )
            )
        return out

    def quantify(self, activity: Activity, params: Params) -> Quantification:
        activity = as_mapping(activity)
        kind = kind_of(activity)
        diners = diners_of(activity)
        slot = meal_slot(activity)
        w_bl = params["plate_waste_g_per_diner"]
        ef = params["ef_food_kg_per_kg"]
        local = parse_time(activity, "meal_at").astimezone(LOCAL_TZ)
        steps: list[Step] = [
            step(
                f"用餐时段：{SLOT_ZH[slot]}",
                f"Meal slot: {slot}",
                f"meal_at {local:%Y-%m-%d %H:%M} Asia/Shanghai",
                slot,
                "",
            )
        ]
        limit = diners * w_bl
        if kind == "small_portion":
            portion_g = to_decimal(activity, "portion_reduction_kg", required=False) * 1000
            steps.append(
                step("少点的分量", "Portion not ordered", "Δportion × 1000 g/kg", portion_g, "g")
            )
            steps.append(
                step(
                    "本来会剩下的量 = 用餐人数 × 人均剩余",
                    "What would have been wasted = diners × plate waste",
                    f"{fmt(diners)} × {fmt(w_bl)}",
                    limit,
                    "g",
                )
            )
            avoided = max(D(0), min(portion_g, limit))
            steps.append(
                step(
                    "计入的少浪费食物（取两者较小值）",
                    "Food waste avoided (the smaller of the two)",
                    f"min({fmt(portion_g)}, {fmt(limit)})",
                    avoided,
                    "g",
                )
            )
        elif kind == "clean_plate":
            avoided = limit
            steps.append(
                step(
                    "光盘少浪费的食物 = 用餐人数 × 人均每餐剩余",
                    "Food waste avoided by a clean plate = diners × plate waste per meal",
                    f"{fmt(diners)} × {fmt(w_bl)}",
                    avoided,
                    "g",
                )
            )
        else:
            avoided = D(0)
            steps.append(
                step("类型不计减排量", "Kind not credited", f"kind = {kind}", avoided, "g")
            )
        be = avoided * ef
        steps.append(
            step(
                "基准线排放 = 少浪费的食物 × 食物碳足迹",
                "Baseline emissions = food waste avoided × food footprint",
                f"{fmt(avoided)} g × {fmt(ef)} gCO2e/g",
                be,
                "gCO2e",
            )
        )
        pe = D(0)
        steps.append(
            step(
                "项目排放（吃完的饭菜不再浪费，记 0）",
                "Project emissions (no food left over: 0)",
                "PE = 0",
                pe,
                "gCO2e",
            )
        )
        return self.finish(be, pe, steps)

    def span_batch(self, columns: pl.DataFrame) -> pl.DataFrame:
        """``span`` on columns: the meal's instant (null where unread)."""
        columns = col.with_fields(columns, "meal_at")
        columns = col.with_times(columns, {"_at": pl.col("meal_at")}, EARLIEST_YEAR, LATEST_YEAR)
        return col.windows(columns, pl.col("_at"), pl.col("_at"))

    def window_batch(self, columns: pl.DataFrame) -> pl.DataFrame:
        """``window`` on columns: the meal's slot on the local clock, for meals from 1992
        (Asia/Shanghai is UTC+8 without daylight saving since; earlier ones are null)."""
        if not _WHOLE_HOURS:
            return null_windows(columns.height)
        at = pl.col("start")
        spans = self.span_batch(columns).select(
            at.alias("start"), pl.when(at.dt.year() >= 1992).then(at + _LOCAL).alias("local")
        )
        local = pl.col("local").dt.replace_time_zone(None)
        day, hour = local.dt.truncate("1d"), local.dt.hour()
        start_h: pl.Expr = pl.when(hour >= SLOTS[-1][2].hour).then(SLOTS[-1][2].hour)
        end_h: pl.Expr = pl.when(hour >= SLOTS[-1][2].hour).then(24 + SLOTS[0][1].hour)
        for _, first, last in reversed(SLOTS):
            in_slot = hour.is_between(first.hour, last.hour, closed="left")
            start_h = pl.when(in_slot).then(first.hour).otherwise(start_h)
            end_h = pl.when(in_slot).then(last.hour).otherwise(end_h)
        # before the first slot: the night that began at 22:00 the day before
        night = hour < SLOTS[0][1].hour
        start_h = pl.when(night).then(SLOTS[-1][2].hour - 24).otherwise(start_h)
        end_h = pl.when(night).then(SLOTS[0][1].hour).otherwise(end_h)

        def utc(hours: pl.Expr) -> pl.Expr:
            return (day + pl.duration(hours=hours) - _LOCAL).dt.replace_time_zone("UTC")

        return col.windows(spans, utc(start_h), utc(end_h))

    def validate_batch(self, columns: pl.DataFrame, params: Params) -> pl.Series:
        """True where ``validate`` certainly finds nothing: a known kind, 1 to
        ``max_diners`` whole diners, a readable ``portion_reduction_kg`` (above 0 and at most
        its cap for a small portion), ``meal_at`` readable, from 1992 (Asia/Shanghai is UTC+8
        without daylight saving since) and in a meal slot. Null elsewhere."""
        height = columns.height
        most_diners = col.whole(params["max_diners"], "floor")
        cap = params["max_portion_reduction_kg"]
        if (
            not _WHOLE_HOURS
            or most_diners is None
            or not (cap.is_finite() and col.scale_of(cap) <= col.SCALE and abs(cap) < 10**9)
        ):
            return pl.Series("valid", [None] * height, dtype=pl.Boolean)
        columns = col.with_fields(columns, "kind", "diners", "portion_reduction_kg", "meal_at")
        kind, diners_text = pl.col("kind"), pl.col("diners").fill_null("1")
        columns = col.with_numbers(
            columns,
            {"_diners": diners_text, "_portion": pl.col("portion_reduction_kg").fill_null("0")},
        )
        columns = col.with_times(columns, {"_at": pl.col("meal_at")}, EARLIEST_YEAR, LATEST_YEAR)
        diners, portion, at = pl.col("_diners"), pl.col("_portion"), pl.col("_at")
        local_hour = (at + pl.duration(hours=8)).dt.hour()
        whole_diners = diners // col.lit(10**col.SCALE)
        valid = columns.select(
            pl.all_horizontal(
                kind.is_in(KINDS),
                diners_text.str.contains(_DINERS),
                whole_diners >= col.lit(1),
                whole_diners <= col.lit(most_diners),
                portion.is_not_null(),
                (kind != "small_portion")
                | ((portion > col.lit(0)) & (portion <= col.lit(col.mantissa(cap, col.SCALE)))),
                at.dt.year() >= 1992,
                local_hour.is_between(SLOTS[0][1].hour, SLOTS[-1][2].hour, closed="left"),
            )
            .fill_null(False)
            .alias("valid")
        ).to_series()
        return valid.set(~valid, None)

    def quantify_batch(self, columns: pl.DataFrame, params: Params) -> pl.DataFrame:
        """``quantify`` on columns, in exact Int128 fixed point (see ``columnar``):
        ``limit = diners × w_BL``, the food avoided (``limit``, or the portion not ordered
        up to it), ``BE = avoided × EF_food``, ``PE = 0``. Rows of another kind, with a
        ``meal_at`` the batch form does not read, or outside the exact range are null."""
        w_bl, ef = params["plate_waste_g_per_diner"], params["ef_food_kg_per_kg"]
        if not (w_bl.is_finite() and ef.is_finite()):
            return col.all_null(columns.height)
        w_scale, ef_scale = col.scale_of(w_bl), col.scale_of(ef)
        w_m, ef_m = col.mantissa(w_bl, w_scale), col.mantissa(ef, ef_scale)
        avoided_scale = col.SCALE + w_scale
        scale = avoided_scale + ef_scale
        # diners < 10^6, portions < 10^6 kg: limit, portion and BE within Int128
        widest = max(ef_scale, col.digits(ef_m))
        if (
            scale > col.SAFE_DIGITS
            or 6 + col.digits(w_m) + col.SCALE + widest > col.SAFE_DIGITS
            or _MAX_PORTION_DIGITS + col.SCALE + 3 + w_scale + widest > col.SAFE_DIGITS
        ):
            return col.all_null(columns.height)
        columns = col.with_fields(columns, "kind", "diners", "portion_reduction_kg", "meal_at")
        kind = pl.col("kind")
        diners_text = pl.col("diners").fill_null("1")
        columns = col.with_numbers(
            columns,
            {"_diners": diners_text, "_portion": pl.col("portion_reduction_kg").fill_null("0")},
        )
        columns = col.with_times(columns, {"_at": pl.col("meal_at")}, EARLIEST_YEAR, LATEST_YEAR)
        diners, portion = pl.col("_diners"), pl.col("_portion")
        portion_places = pl.col("_portion_places")
        small = kind == "small_portion"
        frame = columns.select(
            small.alias("small"),
            (
                kind.is_in(KINDS) & diners_text.str.contains(_DINERS) & pl.col("_at").is_not_null()
            ).alias("readable"),
            # a whole number: its mantissa at SCALE is the number × 10^SCALE exactly
            (diners // col.lit(10**col.SCALE) * col.lit(w_m * 10**col.SCALE)).alias("limit"),
            pl.when(small)
            .then(portion * col.lit(1000 * 10**w_scale))
            .otherwise(col.lit(0))
            .alias("portion"),
            pl.when(small).then(portion_places).otherwise(0).alias("places"),
            (
                ~small
                | (
                    portion.is_not_null()
                    & (col.absolute(portion) < col.lit(10**_MAX_PORTION_DIGITS * 10**col.SCALE))
                )
            ).alias("portion_ok"),
        )
        limit, portion_g = pl.col("limit"), pl.col("portion")
        smaller = pl.when(portion_g < limit).then(portion_g).otherwise(limit)
        frame = frame.with_columns(
            pl.when(pl.col("small"))
            .then(pl.when(smaller > col.lit(0)).then(smaller).otherwise(col.lit(0)))
            .otherwise(limit)
            .alias("avoided"),
        )
        frame = frame.with_columns(
            (pl.col("avoided") * col.lit(ef_m)).alias("be"),
            col.lit(0).alias("pe"),
        )
        at_scale = col.lit(10**ef_scale)
        bound = pl.max_horizontal(
            col.absolute(limit) * at_scale,
            col.absolute(portion_g) * at_scale,
            col.absolute(pl.col("be")),
        )
        unit = pl.max_horizontal(pl.lit(w_scale, pl.Int32), pl.col("places")) + ef_scale
        frame = frame.with_columns(
            (
                pl.col("readable")
                & pl.col("portion_ok")
                & limit.is_not_null()
                & col.exact_enough(bound, scale, unit)
            ).alias("ok")
        )
        return col.finish_columns(frame, "be", "pe", scale, self.rounding, "ok")

    def window(self, activity: Activity) -> Window:
        _, start, end = _slot_span(parse_time(as_mapping(activity), "meal_at"))
        return Window(start.astimezone(UTC), end.astimezone(UTC))

    def span(self, activity: Activity) -> Window:
        """The meal's instant (its slot is the dedupe window, not the time it happened)."""
        at = parse_time(as_mapping(activity), "meal_at")
        return Window(at, at)


@register
class FoodWasteV2(FoodWaste):
    """Module version 2.0.0: the credit is ⌊baseline − project⌋ in whole grams, computed
    exactly, never rounded up (DESIGN.md invariant 4); the steps show baseline and project
    with the decimals they have."""

    version: ClassVar[str] = "2.0.0"
    rounding: ClassVar[str] = FLOOR
