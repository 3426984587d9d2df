"""HTML building blocks for notebook outputs and report files.

Nothing here emits `<script>`: notebook front ends drop or refuse scripts in untrusted output,
static exports (GitHub, nbconvert) never run them, and a report file should open anywhere.
Tabs are radio inputs plus labels switched by CSS alone; where a renderer strips the `<style>`,
every panel simply shows one after another. Figures are embedded as base64 PNG data.
"""
from __future__ import annotations

import base64
import html
import itertools
import secrets

# One prefix per process and a counter: ids stay unique across every output of a notebook.
_ID_PREFIX = f"xlt{secrets.token_hex(3)}"
_ids = itertools.count()

CSS = """
.xlt{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;line-height:1.4}
.xlt h3{font-size:15px;margin:.6em 0 .3em}
.xlt h4{font-size:13px;margin:.8em 0 .3em}
.xlt .xlt-note{color:#666}
.xlt .xlt-err{color:#a00}
.xlt table{border-collapse:collapse;margin:.3em 0}
.xlt th,.xlt td{border:1px solid #ddd;padding:2px 8px;text-align:right}
.xlt th{background:#f4f4f4}
.xlt td:first-child,.xlt th:first-child{text-align:left}
.xlt pre{margin:0;padding:6px;background:#fafafa;border:1px solid #e4e4e4;max-height:28em;overflow:auto;
 font-size:12px;line-height:1.3}
.xlt-tabs{display:flex;flex-wrap:wrap;margin:.4em 0}
.xlt-tabs>input{position:absolute;opacity:0;pointer-events:none}
.xlt-tabs>label{order:0;padding:3px 10px;border:1px solid #ccc;border-bottom:none;margin-right:2px;
 background:#f0f0f0;cursor:pointer;border-radius:4px 4px 0 0;font-size:12px}
.xlt-tabs>.xlt-panel{order:1;width:100%;display:none}
.xlt-tabs>input:checked+label{background:#fff;font-weight:600}
.xlt-tabs>input:checked+label+.xlt-panel{display:block}
.xlt details>summary{cursor:pointer;font-weight:600;margin:.4em 0}
.xlt img{max-width:100%}
"""


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def new_id(kind: str = "id") -> str:
    return f"{_ID_PREFIX}-{kind}-{next(_ids)}"


def style() -> str:
    return f"<style>{CSS}</style>"


def wrap(body: str) -> str:
    """A self-styled fragment for a notebook output."""
    return f'<div class="xlt">{style()}{body}</div>'


def pre(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def note(text: str, cls: str = "xlt-note") -> str:
    return f'<div class="{cls}">{esc(text)}</div>'


def tabs(panels: list[tuple[str, str]], selected: int = 0) -> str:
    """CSS-only tabs: panels is [(label, html body)]."""
    if not panels:
        return ""
    group = new_id("tabs")
    parts = ['<div class="xlt-tabs">']
    for k, (label, body) in enumerate(panels):
        pid = f"{group}-{k}"
        checked = " checked" if k == selected else ""
        parts.append(f'<input type="radio" name="{group}" id="{pid}"{checked}>'
                     f'<label for="{pid}">{esc(label)}</label>'
                     f'<div class="xlt-panel">{body}</div>')
    parts.append("</div>")
    return "".join(parts)


def details(summary: str, body: str, open_: bool = False) -> str:
    return f"<details{' open' if open_ else ''}><summary>{esc(summary)}</summary>{body}</details>"


def table(df, float_format="{:.4g}", index: bool = False) -> str:
    """A DataFrame as an HTML table (numbers formatted compactly, text escaped)."""
    if df is None or len(df) == 0:
        return note("(empty)")

    def fmt(v) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return "" if v != v else float_format.format(v)
        return str(v)
    return df.to_html(index=index, escape=True, na_rep="",
                      formatters={c: fmt for c in df.columns}, border=0)


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img(png: bytes, alt: str = "figure") -> str:
    return f'<img src="{png_data_uri(png)}" alt="{esc(alt)}">'


def document(title: str, body: str) -> str:
    """A complete, self-contained HTML page (no external resources, no scripts)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{esc(title)}</title><style>{CSS} body{{margin:1.5em}}</style></head>"
            f'<body><div class="xlt">{body}</div></body></html>\n')
