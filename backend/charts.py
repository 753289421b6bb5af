"""Server-rendered SVG charts (pygal), made safe for a CSP without 'unsafe-inline'.

pygal's output carries a script, a <style> block and style attributes; ``clean_svg`` removes
them (``app.css`` styles ``.chart``), drops the tooltips and labels the chart for assistive
technology with a title and a description. Pages also give the figures as text.
"""

from __future__ import annotations

import math
import unicodedata
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own pygal output only
from collections.abc import Sequence
from typing import Any

import pygal
from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
PALETTE = ("#1f7a4d", "#2f6fb0", "#b36b00", "#7a4d9c", "#a33b3b", "#3d7f7f")
LABEL_PX = 13  # app.css: .chart text { font-size: 13px } (SVG user units)
PYGAL_LABEL_PX = 10  # the label font size pygal sizes its margins for
PYGAL_CHAR_EM = 0.6  # pygal's guess of any character's width (pygal.util.text_len)


def _char_em(char: str) -> float:
    """A character's width in em, measured in Chromium on DejaVu Sans and Noto Sans CJK
    (rounded up a little): East Asian wide characters are a full em, Latin about half."""
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    if char.isspace():
        return 0.32
    return 0.72 if char.isupper() else 0.56


def label_width(label: str, px: float = LABEL_PX) -> float:
    """The display width of a label in pixels (user units) at ``px``."""
    return px * sum(_char_em(char) for char in label)


def clean_svg(
    svg: str,
    title: str,
    description: str,
    *,
    element_id: str = "chart",
    texts: dict[str, list[str]] | None = None,
) -> Markup:
    """``texts`` replaces pygal labels that read as one of its keys with the key's lines."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(svg)  # noqa: S314 - our own pygal output, not user input
    texts = texts or {}
    for parent in list(root.iter()):
        for child in list(parent):
            tag = child.tag.rsplit("}", 1)[-1]
            classes = (child.get("class") or "").split()
            if (
                tag in ("script", "style", "defs", "title", "desc")
                and parent is root
                or tag in ("script", "style")
                or "tooltip-overlay" in classes
                or tag == "desc"
                and child.text in texts
            ):
                parent.remove(child)
    for element in root.iter():
        element.attrib.pop("style", None)
        if element.tag == f"{{{SVG_NS}}}text" and element.text in texts:
            _set_lines(element, texts[element.text])
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


def _set_lines(element: ET.Element, lines: list[str]) -> None:
    """A label's text as one line, or as lines centred on where pygal put the one."""
    if len(lines) == 1:
        element.text = lines[0]
        return
    element.text = None
    for i, line in enumerate(lines):
        dy = f"{-0.6 * (len(lines) - 1):g}em" if i == 0 else "1.2em"
        tspan = ET.SubElement(element, f"{{{SVG_NS}}}tspan", {"x": element.get("x", "0"), "dy": dy})
        tspan.text = line


def wrap_label(label: str, max_width: float) -> list[str]:
    """A label as one line, or, when it is wider than ``max_width``, as two split at the
    space (or before a bracket) that makes the wider line narrowest."""
    if label_width(label) <= max_width:
        return [label]
    splits = [
        (label[:i].rstrip(), label[i:].lstrip())
        for i, char in enumerate(label)
        if i and (char == " " or char in "（(")
    ]
    if not splits:
        return [label]
    return list(min(splits, key=lambda pair: max(map(label_width, pair))))


def _options(**extra: Any) -> dict[str, Any]:
    return {
        "disable_xml_declaration": True,
        "js": [],
        "css": [],
        "no_prefix": True,
        "explicit_size": False,
        "show_legend": False,
        "margin": 6,
        "spacing": 6,
        "dynamic_print_values": False,
        "truncate_label": -1,
        "truncate_legend": -1,
        **extra,
    }


def nice_ticks(top: float, room: float) -> list[float]:
    """Ticks from 0 past ``top`` in steps of 1, 2, 2.5 or 5 times a power of ten, the
    finest whose numbers fit side by side in ``room`` units (pygal's own scale can skip a
    number and does not look at the room)."""
    if top <= 0:
        return [0.0, 1.0]
    power = 10.0 ** (math.floor(math.log10(top)) - 1)
    for step in (power * m for e in (1, 10, 100) for m in (e, 2 * e, 2.5 * e, 5 * e)):
        ticks = [round(i * step, 10) for i in range(math.ceil(top / step - 1e-9) + 1)]
        if len(ticks) * (max(label_width(f"{t:g}") for t in ticks) + 14) <= room:
            return ticks
    return [0.0, top]


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    description: str,
    element_id: str,
    horizontal: bool = False,
    width: int = 360,
    height: int = 220,
) -> Markup:
    """Bars with plain numbers on the value axis (the unit belongs in the title).

    A horizontal chart's labels get the room their text really takes (pygal guesses 0.6 em
    of 10 px per character; they are drawn at 13 px and a CJK character is a full em): pygal
    lays out short placeholders, ``margin_left`` makes the room, long labels wrap onto two
    lines, and the value axis has only as many ticks as fit the plot that remains.
    """
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    extra: dict[str, Any] = {}
    texts: dict[str, list[str]] = {}
    x_labels = list(labels)
    if horizontal and labels:
        x_labels = [f"#{i}" for i in range(len(labels))]
        texts = {
            key: wrap_label(label, width * 0.38)
            for key, label in zip(x_labels, labels, strict=True)
        }
        options = _options()
        reserved = options["spacing"] + PYGAL_CHAR_EM * PYGAL_LABEL_PX * max(map(len, x_labels))
        widest = max(label_width(line) for lines in texts.values() for line in lines)
        # the labels end 5 units left of the plot; keep ``margin`` clear on their left
        extra["margin_left"] = max(1.0, options["margin"] + 5 + widest - reserved)
        plot = width - extra["margin_left"] - reserved - options["margin"]
        ticks = nice_ticks(max(values, default=0), plot)
        # the last tick's number is centred on the plot's right edge: room for its half
        extra["margin_right"] = max(options["margin"], label_width(f"{ticks[-1]:g}") / 2 + 2)
        extra["y_labels"] = nice_ticks(
            max(values, default=0), plot + options["margin"] - extra["margin_right"]
        )
    chart = kind(
        **_options(
            width=width,
            height=height,
            print_values=False,
            value_formatter=lambda v: f"{v:g}",
            **extra,
        )
    )
    chart.x_labels = x_labels
    chart.add(title, list(values))
    return clean_svg(
        chart.render(is_unicode=True), title, description, element_id=element_id, texts=texts
    )


def line_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    description: str,
    element_id: str,
    width: int = 360,
    height: int = 220,
) -> Markup:
    chart = pygal.Line(
        **_options(
            width=width,
            height=height,
            show_dots=True,
            dots_size=3,
            x_label_rotation=0,
            show_minor_x_labels=False,
            show_legend=len(series) > 1,
            legend_at_bottom=True,
        )
    )
    chart.x_labels = list(labels)
    chart.x_labels_major = list(labels)[::3]
    for name, values in series.items():
        chart.add(name, list(values))
    return clean_svg(chart.render(is_unicode=True), title, description, element_id=element_id)
