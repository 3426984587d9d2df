"""The summary of one compiled program: what `%%xla` shows and what an Executable displays as."""
from __future__ import annotations

import numpy as np

from xltune.measure import format_seconds

from . import html as H
from .stages import stages_html, stages_text


def signature(exe) -> str:
    ins = ", ".join(f"{n}: {t}" for n, t in zip(exe.param_names, exe.param_types))
    outs = ", ".join(str(t) for t in exe.output_types)
    return f"({ins}) -> ({outs})"


def _bytes(n) -> str:
    if n is None:
        return "?"
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def headline(exe) -> str:
    """The facts of a compile on one line: ops, kernels, memory, compile time, config."""
    st = exe.stats
    parts = []
    if "ops_before" in st:
        n = st["ops_before"]
        parts.append(f"{n} op{'s' if n != 1 else ''} -> {st.get('ops_after', '?')} after the passes")
    if "kernels" in st:
        k = f"{st['kernels']} kernel{'s' if st['kernels'] != 1 else ''}"
        if st.get("fallback_ops"):
            k += f" + {st['fallback_ops']} fallback op{'s' if st['fallback_ops'] != 1 else ''}"
        parts.append(k)
    if "peak_bytes" in st:
        parts.append(f"peak {_bytes(st['peak_bytes'])} (naive {_bytes(st.get('naive_bytes_unfused', st.get('naive_bytes')))})")
    if "compile_seconds" in st:
        parts.append(f"compiled in {format_seconds(st['compile_seconds'])}")
    src = st.get("config_source", "default")
    parts.append(f"config: {src}" + (f" {exe.config.to_json()}" if len(exe.config) else ""))
    return "; ".join(parts)


class Summary:
    """A compiled program for display: header, stages in tabs, and (optionally) a timing table."""

    def __init__(self, exe, name: str | None = None, timing=None, notes=(), title: str | None = None):
        self.exe = exe
        self.name = name or getattr(exe.module, "name", None) or "exe"
        self.timing = timing
        self.notes = list(notes)
        self.title = title

    def _title(self) -> str:
        return self.title or f"{self.name} — xltune {self.exe.backend}"

    def html(self) -> str:
        from .frames import summarize_timing
        exe = self.exe
        parts = [f"<h3>{H.esc(self._title())}</h3>",
                 f"<div><code>{H.esc(signature(exe))}</code></div>",
                 f"<div>{H.esc(headline(exe))}</div>"]
        for fb in exe.stats.get("fallbacks", []) or []:
            parts.append(H.note(f"fallback: {fb}"))
        if self.timing is not None and len(self.timing):
            parts.append("<h4>timing</h4>")
            parts.append(f"<div>{H.esc(summarize_timing(self.timing))}</div>")
            parts.append(H.table(_timing_view(self.timing)))
        for n in self.notes:
            parts.append(H.note(n))
        parts.append("<h4>stages</h4>")
        parts.append(stages_html(exe, owner=self.name))
        return H.wrap("".join(parts))

    def text(self) -> str:
        from .frames import summarize_timing
        exe = self.exe
        lines = [self._title(), f"  {signature(exe)}", f"  {headline(exe)}"]
        for fb in exe.stats.get("fallbacks", []) or []:
            lines.append(f"  fallback: {fb}")
        if self.timing is not None and len(self.timing):
            lines.append("timing: " + summarize_timing(self.timing))
            lines.append(_timing_view(self.timing).to_string(index=False))
        lines.extend(self.notes)
        lines.append(f"stages ({self.name}.stages[...]):")
        lines.append(stages_text(exe))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.html()

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle):
        p.text(self.text())


def _timing_view(df):
    """The timing frame with readable time columns, for display."""
    view = df[["implementation"]].copy()
    view["median"] = [format_seconds(v) if np.isfinite(v) else "" for v in df["median_s"].astype(float)]
    view["IQR"] = [format_seconds(v) if np.isfinite(v) else "" for v in df["iqr_s"].astype(float)]
    view["vs xltune"] = [f"{v:.2f}x" if np.isfinite(v) else "" for v in df["vs_xltune"].astype(float)]
    view["GB/s"] = [f"{v:.2f}" if np.isfinite(v) else "" for v in df["GB/s"].astype(float)]
    view["max rel err"] = [f"{v:.1e}" if isinstance(v, (float, np.floating)) and np.isfinite(v) else ""
                           for v in df["max_rel_err"]]
    view["noisy"] = ["yes" if isinstance(v, (bool, np.bool_)) and v else "" for v in df["noisy"]]
    view["note"] = df["note"].fillna("")
    return view
