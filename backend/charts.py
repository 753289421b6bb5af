"""Server-rendered SVG charts (pygal), made safe for a CSP without 'unsafe-inline'.

pygal's output carries a script, a <style> block and style attributes; ``clean_svg`` removes
them (``app.css`` styles ``.chart``), drops the tooltips and labels the chart for assistive
technology with a title and a description. Pages also give the figures as text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - parses our own pygal output only
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = ("#1f7a4d", "#2f6fb0", "#b36b00", "#7a4d9c", "#a33b3b", "#3d7f7f")


def clean_svg(svg: str, title: str, description: str, *, element_id: str = "chart") -> Markup:
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(svg)  # noqa: S314 - our own pygal output, not user input
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            classes = (child.get("class") or "").split()
            if (tag in ("script", "style", "defs", "title", "desc") and parent is root
                    or tag in ("script", "style") or "tooltip-overlay" in classes):
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("style", None)
    root.attrib.pop("id", None)
    root.set("role", "img")
    root.set("aria-labelledby", f"{element_id}-title {element_id}-desc")
    root.set("focusable", "false")
    desc = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{element_id}-desc"})
    desc.text = description
    root.insert(0, desc)
    heading = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{element_id}-title"})
    heading.text = title
    root.insert(0, heading)
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704 - escaped by ElementTree


def _options(**extra: Any) -> dict[str, Any]:
    return {"disable_xml_declaration": True, "js": [], "css": [], "no_prefix": True,
            "explicit_size": False, "show_legend": False, "margin": 6, "spacing": 6,
            "dynamic_print_values": False, "truncate_label": -1, "truncate_legend": -1,
            **extra}


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, description: str,
              element_id: str, horizontal: bool = False, width: int = 360,
              height: int = 220) -> Markup:
    """Bars with plain numbers on the value axis (the unit belongs in the title)."""
    import pygal

    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    extra: dict[str, Any] = {}
    if horizontal:  # pygal sizes label room for Latin text; CJK labels need about 1 em each
        extra["margin_left"] = 10 + 13 * max((len(label) for label in labels), default=0)
    chart = kind(**_options(width=width, height=height, print_values=False,
                            value_formatter=lambda v: f"{v:g}", **extra))
    chart.x_labels = list(labels)
    chart.add(title, list(values))
    return clean_svg(chart.render(is_unicode=True), title, description, element_id=element_id)


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float]], *, title: str,
               description: str, element_id: str, width: int = 360,
               height: int = 220) -> Markup:
    import pygal

    chart = pygal.Line(**_options(width=width, height=height, show_dots=True, dots_size=3,
                                  x_label_rotation=0, show_minor_x_labels=False,
                                  show_legend=len(series) > 1, legend_at_bottom=True))
    chart.x_labels = list(labels)
    chart.x_labels_major = list(labels)[::3]
    for name, values in series.items():
        chart.add(name, list(values))
    return clean_svg(chart.render(is_unicode=True), title, description, element_id=element_id)
