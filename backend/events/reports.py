"""What events print and draw: the 碳计量报告 (HTML and PDF), the certificate (PDF) and the
sequestration chart (server-rendered SVG).

PDFs are rendered with WeasyPrint from the templates under ``backend/templates/reports/``
with ``<html lang="zh-CN">`` and an explicit Simplified Chinese font stack in ``print.css``
(Noto Sans CJK SC, WenQuanYi Micro Hei), so Chinese comes out in SC glyph forms. They are
small, so they are made in the request. WeasyPrint is given no URL fetcher protocol at all:
it reads nothing from the network or the disk.

The chart is a pygal SVG with its script and inline styles removed (the page's CSP allows
neither); ``app.css`` styles it (``.chart``) and the page gives a text summary and the data
as a table next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pygal
from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup

from methodologies import afforestation as af
from methodologies import event_footprint as ef

from ..charts import clean_svg
from ..pdf import render_pdf
from ..qr import qr_svg
from ..security import public_url
from ..timeutil import utcnow
from . import removals
from .models import (
    Certificate,
    Event,
    EventFootprint,
    GrowthMeasurement,
    Planting,
    PlantingPlan,
)
from .queries import retirements_of, standing

REPORTS_DIR = Path(__file__).resolve().parent.parent / "templates" / "reports"
PRINT_CSS = REPORTS_DIR / "print.css"
G_PER_T = Decimal(1_000_000)


# --- numbers for people ------------------------------------------------------------------


def tonnes(grams: int | None, places: int = 3) -> str:
    """Grams as tonnes CO2e with thousands separators, e.g. 39502667 -> "39.503"."""
    if grams is None:
        return "—"
    value = (Decimal(grams) / G_PER_T).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
    return f"{value:,}"


def kilograms(grams: int | None) -> str:
    if grams is None:
        return "—"
    value = (Decimal(grams) / 1000).quantize(Decimal("0.001"), ROUND_HALF_UP)
    return f"{value:,}"


def percent(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{(value * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def number(value: Any) -> str:
    """A decimal string without trailing zeros and with thousands separators."""
    d = Decimal(str(value)).normalize()
    if d == d.to_integral_value():
        return f"{d.quantize(Decimal(1)):,}"
    return f"{d:,f}"


TEMPLATE_FILTERS = {"tco2e": tonnes, "kgco2e": kilograms, "percent": percent, "number": number}
TEMPLATE_GLOBALS = {
    "SPECIES": af.SPECIES,
    "CATEGORIES": ef.CATEGORIES,
    "UNITS": ef.UNITS,
}


# --- the 碳计量报告 -------------------------------------------------------------------------


def footprint_context(event: Event, footprint: EventFootprint) -> dict[str, Any]:
    """Everything the report shows, read from what was stored (reproducible)."""
    result = footprint.result
    state = standing(event)
    cert = event.certificate
    url = verify_url(cert) if cert is not None else None
    return {
        "event": event,
        "fp": footprint,
        "version": footprint.version,
        "method": ef.EventFootprint,
        "lines": result["lines"],
        "subtotals": list(result["subtotals_g"].items()),
        "standing": state,
        "retirements": retirements_of(event.id),
        "forest_credits": removals.credits_of_event(event.id),
        "blocks": [
            ForestBlock(
                b.planting,
                removals.measurements_of(b.planting.id),
                removals.block_counted_g(b.planting.id),
            )
            for b in state.blocks
        ],
        "cert": cert,
        "verify_url": url,
        "qr": Markup(qr_svg(url)) if url else None,  # noqa: S704 - our own URL, by qrcode
        "generated_at": utcnow(),
    }


@dataclass(frozen=True)
class ForestBlock:
    """A planted block as the report shows it: its measurements and counted removals."""

    planting: Planting
    measurements: list[GrowthMeasurement]
    counted_g: int  # counted for the event, net of cancellations

    @property
    def latest(self) -> GrowthMeasurement | None:
        return self.measurements[-1] if self.measurements else None


def _pdf(html: str) -> bytes:
    return render_pdf(html, [PRINT_CSS])


def footprint_pdf(event: Event, footprint: EventFootprint) -> bytes:
    html = render_template("reports/footprint.html", **footprint_context(event, footprint))
    return _pdf(html)


# --- the certificate ---------------------------------------------------------------------


def verify_url(cert: Certificate) -> str:
    return public_url("mobile.verify", code=cert.verify_code)


def certificate_pdf(cert: Certificate) -> bytes:
    url = verify_url(cert)
    html = render_template(
        "reports/certificate.html",
        cert=cert,
        snap=cert.snapshot,
        verify_url=url,
        qr=Markup(qr_svg(url)),  # noqa: S704 - generated by qrcode from our own URL
    )
    return _pdf(html)


# --- the sequestration chart -------------------------------------------------------------


def _clean_svg(svg: str, title: str, description: str) -> Markup:
    return clean_svg(svg, title, description, element_id="chart")


def _t(grams: int) -> float:
    return float(Decimal(grams) / G_PER_T)  # chart coordinates only, never stored


def sequestration_chart(plan: PlantingPlan) -> Markup:
    """Cumulative projected net removal of the plan against the emissions the forest must
    absorb, with the break-even year marked."""
    points = [(p["year"], _t(p["cumulative_g"])) for p in plan.curve]
    first, last = plan.planting_year, plan.planting_year + plan.horizon_years
    top = max(_t(plan.removal_g), _t(plan.target_g)) * 1.05
    step = 5 if plan.horizon_years > 10 else 2
    chart = pygal.XY(
        width=560,
        height=340,
        explicit_size=False,
        disable_xml_declaration=True,
        js=[],
        css=[],
        no_prefix=True,
        show_legend=False,
        show_dots=False,
        show_x_guides=False,
        dynamic_print_values=False,
        include_x_axis=True,
        range=(0, top),
        xrange=(first, last),
        x_labels=list(range(first, last + 1, step)),
        x_value_formatter=lambda x: str(int(x)),
        value_formatter=lambda y: f"{y:,.0f}",
        y_title=_("t CO2e"),
        margin=8,
        margin_right=30,  # room for the last year label
        spacing=8,
    )
    chart.add(_("Projected cumulative removal"), points)
    chart.add(
        _("Emissions the forest must absorb"),
        [(first, _t(plan.target_g)), (last, _t(plan.target_g))],
    )
    chart.add(
        _("Break-even"),
        [(plan.break_even_year, 0), (plan.break_even_year, top)],
    )
    title = _("Projected sequestration of the planting plan")
    description = _(
        "Cumulative removal reaches the %(t)s t CO2e to absorb in %(year)s, %(age)s years "
        "after planting; by %(last)s it is projected at %(total)s t.",
        t=tonnes(plan.target_g, 1),
        year=plan.break_even_year,
        age=plan.break_even_age,
        last=last,
        total=tonnes(plan.removal_g, 1),
    )
    return _clean_svg(chart.render(is_unicode=True), title, description)
