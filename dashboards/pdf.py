"""A4 PDF of a rendered report (WeasyPrint, the `pdf` extra): page numbers, and the sealed entry's
manifest hash in every page footer, so a printed page can be checked against the ledger."""

from __future__ import annotations

from typing import Any

# Noto Sans CJK carries Hangul (Debian's fonts-noto-cjk); DejaVu is the fallback for Latin.
FONTS = '"Noto Sans CJK KR", "Noto Sans KR", "NanumGothic", "DejaVu Sans", sans-serif'


def _css_string(text: str) -> str:
    """Return `text` as a quoted CSS string; anything but plain ASCII is a six-digit escape."""
    safe = (c if " " <= c <= "~" and c not in '"\\' else f"\\{ord(c):06x}" for c in text)
    return '"' + "".join(safe) + '"'


def page_css(footer: str) -> str:
    """Return the print stylesheet: A4, margins, the footer text left and the page number right."""
    return f"""
@page {{
  size: A4;
  margin: 18mm 15mm 20mm 15mm;
  @bottom-left {{ content: {_css_string(footer)}; font-family: {FONTS}; font-size: 7pt; color: #444; }}
  @bottom-right {{
    content: counter(page) " / " counter(pages); font-family: {FONTS}; font-size: 8pt; color: #444;
  }}
}}
html, body {{ font-family: {FONTS}; font-size: 9.5pt; }}
table {{ width: 100%; page-break-inside: auto; }}
td, th {{ overflow-wrap: anywhere; }}
pre, code {{ white-space: pre-wrap; overflow-wrap: anywhere; }}
tr, svg, figure {{ page-break-inside: avoid; }}
h1, h2, h3 {{ page-break-after: avoid; }}
a {{ color: inherit; }}
nav, .no-print {{ display: none; }}
.print-only {{ display: block; }}
"""


def _offline_fetcher(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Refuse every URL that is not inline data: a report must not reach the network."""
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        return default_url_fetcher(url, *args, **kwargs)
    raise ValueError(f"a report may not load {url}")


def render_pdf(html: str, footer: str) -> bytes:
    """Return the report as an A4 PDF with `footer` and the page number on every page."""
    from weasyprint import CSS, HTML

    document = HTML(string=html, url_fetcher=_offline_fetcher)
    return document.write_pdf(stylesheets=[CSS(string=page_css(footer))])
