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

from .base import (
    FLOOR,
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
