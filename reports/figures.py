"""matplotlib figures from measurements.

Figures are built with `matplotlib.figure.Figure` directly, never through pyplot: no global
state, nothing shown twice by the inline backend, nothing leaked between calls, and any
backend (including none) works.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .frames import read_bench, trials_of, tuning_frame


def _unit(seconds: float) -> tuple[float, str]:
    """A scale and unit that make these times readable."""
    if not np.isfinite(seconds) or seconds >= 1:
        return 1.0, "s"
    if seconds >= 1e-3:
        return 1e3, "ms"
    if seconds >= 1e-6:
        return 1e6, "µs"
    return 1e9, "ns"


def figure_png(fig, dpi: int = 96) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


class FigureView:
    """A figure for display: PNG for rich front ends, a caption for terminals and static text."""

    def __init__(self, fig, caption: str):
        self.figure = fig
        self.caption = caption
        self._png = None

    def png(self) -> bytes:
        if self._png is None:
            self._png = figure_png(self.figure)
        return self._png

    def _repr_png_(self):
        return self.png()

    def __repr__(self) -> str:
        return f"[figure] {self.caption}"

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


def tuning_figure(result, default_s: float | None = None, title: str | None = None):
    """Per-trial time and best-so-far against the trial number (a TuningResult or a trials frame).

    Complete trials are dots, pruned ones hollow (at their quick first reading), failed ones
    red crosses along the top; the dashed line is the default Config's paired time.
    """
    from matplotlib.figure import Figure

    df = trials_of(result)
    frame = tuning_frame(df)
    if default_s is None:
        default_s = getattr(result, "default_s", None)
    fig = Figure(figsize=(6.4, 3.4))
    ax = fig.add_subplot()
    ax.set_xlabel("trial")
    done = frame[frame["state"] == "COMPLETE"]
    times = [t for t in done["time_s"].astype(float) if np.isfinite(t)]
    scale, unit = _unit(float(np.median(times)) if times else (default_s or np.nan))
    ax.set_ylabel(f"time per call ({unit})")
    if len(done):
        ax.plot(done["number"], done["time_s"].astype(float) * scale, "o", ms=4, color="C0",
                label="trial time")
        best = frame["best_so_far_s"].astype(float)
        ax.step(frame["number"], best * scale, where="post", color="C1", lw=1.8, label="best so far")
    shown = list(times)
    if df is not None and len(df) and "time_s_partial" in df:
        pruned = df[df["state"] == "PRUNED"]
        quick = pruned["time_s_partial"].astype(float)
        keep = np.isfinite(quick)
        if keep.any():
            ax.plot(pruned["number"][keep], quick[keep] * scale, "o", ms=4, mfc="none", color="C7",
                    label="pruned (quick reading)")
            shown += list(quick[keep])
    failed = frame[frame["state"] == "FAIL"]
    if len(failed):
        top = max(shown) * scale * 1.05 if shown else 1.0  # along the top: failures have no time
        ax.plot(failed["number"], [top] * len(failed), "x", color="C3", label="failed")
    if default_s is not None and np.isfinite(default_s):
        ax.axhline(default_s * scale, ls="--", color="C2", lw=1, label="default (paired)")
    if shown and max(shown) / max(min(shown), 1e-12) > 20:  # a slow outlier must not flatten the rest
        ax.set_yscale("log")
    n = len(frame)
    ax.set_title(title or f"autotuning: {n} trial{'s' if n != 1 else ''}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def tuning_caption(result, default_s: float | None = None) -> str:
    from xltune.measure import format_seconds
    frame = tuning_frame(trials_of(result))
    if default_s is None:
        default_s = getattr(result, "default_s", None)
    if len(frame) == 0:
        return "autotuning: no trials yet"
    counts = frame["state"].value_counts().to_dict()
    best = frame["best_so_far_s"].astype(float).iloc[-1]
    text = (f"autotuning: {len(frame)} trials ({', '.join(f'{v} {k.lower()}' for k, v in counts.items())})"
            + (f", best {format_seconds(best)}" if np.isfinite(best) else ""))
    if default_s is not None and np.isfinite(default_s):
        text += f", default {format_seconds(default_s)}"
    return text


def bench_figure(df, title: str | None = None):
    """`xltune bench` results (its DataFrame, or the path of its --json file): speed against
    XLA (or the interpreter) per workload, and the achieved share of the machine's copy bandwidth."""
    from matplotlib.figure import Figure

    if isinstance(df, (str, Path)):  # the file `xltune bench --json OUT` wrote
        df, summary = read_bench(df)
        if title is None and "copy_bw_GBps" in summary:
            title = f"xltune bench ({summary.get('backend', '')}, copy bandwidth {summary['copy_bw_GBps']:.1f} GB/s)"
    if df is None or len(df) == 0 or "workload" not in df:
        raise ValueError("bench_figure needs the DataFrame `xltune bench` produces (a 'workload' column)")
    ok = df[df["xltune_s"].notna()] if "xltune_s" in df else df.iloc[0:0]
    labels = [f"{w}" + (f" ({s})" if isinstance(s, str) and s else "")
              for w, s in zip(ok["workload"], ok.get("size", [""] * len(ok)))]
    versus = "xla_s" if "xla_s" in ok and ok["xla_s"].notna().any() else "interp_s"
    against = "XLA" if versus == "xla_s" else "the interpreter"
    fig = Figure(figsize=(9, 0.45 * max(3, len(ok)) + 1.2))
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(ok))
    h = 0.38
    if versus in ok:
        ax1.barh(y - h / 2, ok[versus] / ok["xltune_s"], h, color="C0", label="xltune default")
        if "tuned_s" in ok and ok["tuned_s"].notna().any():
            ax1.barh(y + h / 2, ok[versus] / ok["tuned_s"], h, color="C1", label="xltune tuned")
    ax1.axvline(1.0, color="k", lw=1)
    ax1.set_xscale("log")
    ax1.set_xlabel(f"speedup over {against} (>1: xltune faster)")
    ax1.set_yticks(y, labels)
    ax1.invert_yaxis()
    ax1.legend(fontsize=8)
    ax1.grid(axis="x", alpha=0.3)
    if "%copy_bw" in ok:
        ax2.barh(y, ok["%copy_bw"].astype(float), 0.6, color="C2")
        ax2.set_xlabel("% of copy bandwidth (minimum bytes / time)")
    else:
        ax2.text(0.5, 0.5, "no byte counts", ha="center", va="center", transform=ax2.transAxes)
    ax2.grid(axis="x", alpha=0.3)
    fig.suptitle(title or f"xltune bench: {len(ok)} workload{'s' if len(ok) != 1 else ''}")
    fig.tight_layout()
    return fig


def timing_figure(timing, title: str | None = None):
    """Median time with its interquartile range per implementation (a timing_frame)."""
    from matplotlib.figure import Figure
    ok = timing[np.isfinite(timing["median_s"].astype(float))]
    scale, unit = _unit(float(ok["median_s"].min()) if len(ok) else np.nan)
    fig = Figure(figsize=(6.4, 0.5 * max(2, len(ok)) + 1.0))
    ax = fig.add_subplot()
    y = np.arange(len(ok))
    ax.barh(y, ok["median_s"] * scale, xerr=ok["iqr_s"].astype(float) * scale / 2, color="C0")
    ax.set_yticks(y, list(ok["implementation"]))
    ax.invert_yaxis()
    ax.set_xlabel(f"median time per call ({unit}), ± IQR/2")
    if len(ok) and ok["median_s"].max() / ok["median_s"].min() > 20:
        ax.set_xscale("log")
    ax.set_title(title or "timing")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
