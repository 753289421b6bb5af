"""HTML to PDF with WeasyPrint, loading nothing from outside.

Templates are rendered with ``<html lang="zh-CN">`` and print CSS naming Simplified Chinese
fonts (Noto Sans CJK SC, WenQuanYi Micro Hei), or WeasyPrint falls back to serif and to
Japanese glyph forms (environment.md §4). The stylesheets are passed as text and the URL
fetcher allows no protocol at all, so a PDF never reads a file or the network (charts are
inline SVG).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def render_pdf(html: str, stylesheets: Sequence[Path]) -> bytes:
    # weasyprint takes about 1.7 s to import (pango, cairo and fonts through cffi): loaded by
    # the first PDF, not by every web and worker process
    from weasyprint import CSS, HTML  # noqa: PLC0415 - heavy optional import, see above
    from weasyprint.urls import URLFetcher  # noqa: PLC0415 - heavy optional import

    fetcher = URLFetcher(allowed_protocols=())
    document = HTML(string=html, base_url="about:blank", url_fetcher=fetcher)
    sheets = [CSS(string=p.read_text(encoding="utf-8"), url_fetcher=fetcher) for p in stylesheets]
    return bytes(document.write_pdf(stylesheets=sheets))
