"""A performance report for one compiled program, for a notebook or as a self-contained HTML file.

Sections: the compile's statistics and per-pass seconds, the fusion log, timing against the
interpreter and XLA with achieved bandwidth against the machine's copy bandwidth, per-kernel
times where the backend offers them, the tuning history when the program was tuned, and
every stage. Each section keeps its DataFrames and figures (`report.frames`, `report.figures`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xltune.errors import XltuneError
from xltune.measure import format_seconds

from . import html as H
from .figures import FigureView, timing_figure, tuning_caption, tuning_figure
from .frames import (bandwidth_frame, machine_copy_bandwidth, passes_frame, stats_frame, summarize_timing,
                     timing_frame, tuning_frame)
from .stages import stages_html, stages_text
from .summary import headline, signature


@dataclass
class Section:
    title: str
    html: str
    text: str


@dataclass
class Report:
    title: str
    sections: list[Section] = field(default_factory=list)
    frames: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)

    def add(self, title: str, html: str, text: str):
        self.sections.append(Section(title, html, text))

    def html(self) -> str:
        body = "".join(f"<h4>{H.esc(s.title)}</h4>{s.html}" for s in self.sections)
        return f"<h3>{H.esc(self.title)}</h3>{body}"

    def _repr_html_(self) -> str:
        return H.wrap(self.html())

    def text(self) -> str:
        out = [self.title, "=" * len(self.title)]
        for s in self.sections:
            out += ["", s.title, "-" * len(s.title), s.text]
        return "\n".join(out)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p, cycle):
        p.text(self.text())

    def save(self, path) -> Path:
        """Write a self-contained HTML file (inline CSS, figures as data URIs, no scripts)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(H.document(self.title, self.html()), encoding="utf-8")
        return path


def _frame_section(df, text_df=None) -> tuple[str, str]:
    return H.table(df), (text_df if text_df is not None else df).to_string(index=False)


def _figure(report: Report, key: str, fig, caption: str) -> tuple[str, str]:
    view = FigureView(fig, caption)
    report.figures[key] = fig
    return H.img(view.png(), caption), f"[figure: {caption}]"


def performance_report(exe, name: str = "exe", args=None, *, tuning=None, budget_s: float = 0.3,
                       interpreter: bool = True, xla: bool = True, history: bool = True) -> Report:
    """Build the report. tuning: a TuningResult (or a trials DataFrame) for the history section;
    None looks for the stored tuning of this program when its Config came from the tuned cache."""
    rep = Report(f"xltune performance report: {name}")

    info = (f"backend {exe.backend}\nsignature {signature(exe)}\n{headline(exe)}\n"
            f"config {exe.config.to_json()} ({exe.stats.get('config_source', 'default')})")
    rep.add("program", H.pre(info), info)

    st = stats_frame(exe)
    rep.frames["stats"] = st
    rep.add("statistics", *_frame_section(st))
    ps = passes_frame(exe)
    rep.frames["passes"] = ps
    if len(ps):
        rep.add("passes (in the order they ran)", *_frame_section(ps))

    log = exe.stages.get("fusion_log")
    if log is not None:
        rep.add("fusion log", H.pre(log) if log.strip() else H.note("(no fusion decisions)"), log)

    try:
        timing = timing_frame(exe, args, budget_s=budget_s, interpreter=interpreter, xla=xla)
    except XltuneError as e:  # e.g. no random inputs for a token parameter: the rest still stands
        why = f"timing skipped: {e}"
        rep.add("timing", H.note(why), why)
        timing = None
    if timing is not None:
        _timing_sections(rep, exe, name, timing, args, budget_s)

    trials, default_s, lines = _tuning_source(exe, tuning, history)
    if trials is not None:
        tf = tuning_frame(trials)
        rep.frames["tuning"] = tf
        cap = tuning_caption(trials, default_s)
        fh, ft = _figure(rep, "tuning", tuning_figure(trials, default_s), cap)
        view = tf.drop(columns=["config"]) if "config" in tf else tf
        h, t = _frame_section(view)
        head = "".join(f"<div>{H.esc(l)}</div>" for l in lines)
        rep.add("tuning history", head + fh + H.details(f"{len(tf)} trials", h), "\n".join(lines + [ft, t]))
    elif lines:
        rep.add("tuning history", "".join(H.note(l) for l in lines), "\n".join(lines))

    rep.add("stages", stages_html(exe, owner=name, max_lines=2000), stages_text(exe))
    return rep


def _timing_sections(rep: Report, exe, name: str, timing, args, budget_s: float):
    """Timing, achieved bandwidth and (where offered) per-kernel time."""
    from .profile import profile_frame
    from .summary import _timing_view
    rep.frames["timing"] = timing
    line = summarize_timing(timing)
    h, t = _frame_section(_timing_view(timing))
    fh, ft = _figure(rep, "timing", timing_figure(timing, f"{name}: median time per call"), "timing")
    rep.add("timing", f"<div>{H.esc(line)}</div>{h}{fh}", f"{line}\n{t}\n{ft}")

    bw, noisy = machine_copy_bandwidth()
    bwf = bandwidth_frame(timing, bw)
    rep.frames["bandwidth"] = bwf
    nbytes = timing.attrs.get("min_bytes", 0)
    intro = (f"minimum bytes moved: {nbytes} (every argument read once, every output written once); "
             f"machine copy bandwidth {bw / 1e9:.2f} GB/s{' (noisy)' if noisy else ''}")
    h, t = _frame_section(bwf)
    rep.add("achieved bandwidth", f"<div>{H.esc(intro)}</div>{h}", f"{intro}\n{t}")

    if getattr(exe.runner, "kernel_calls", None) is not None:
        prof = profile_frame(exe, args, budget_s=budget_s)
        rep.frames["profile"] = prof
        h, t = _frame_section(prof)
        rep.add("per-kernel time", h + H.note(prof.attrs.get("note", "")), t)


def _tuning_source(exe, tuning, history: bool):
    """(trials frame, default seconds, summary lines) from a TuningResult, a frame, or the store."""
    if tuning is not None:
        if hasattr(tuning, "summary_lines"):
            return tuning.trials, tuning.default_s, tuning.summary_lines()
        return tuning, None, [f"{len(tuning)} trials"]
    if history and exe.stats.get("config_source") == "tuned":
        try:
            return stored_history(exe)
        except Exception as e:  # noqa: BLE001 - a report without the history beats no report
            return None, None, [f"built with a stored tuned Config; its study could not be read: "
                                f"{type(e).__name__}: {e}"]
    return None, None, []


def stored_history(exe):
    """The study behind this program's stored tuned Config, read back from its storage:
    (trials frame, default seconds, summary lines)."""
    import optuna
    import xltune
    from xltune.autotune.cache import key_of, key_parts, tuned_configs
    from xltune.autotune.storage import resolve_url
    from xltune.autotune.tuner import trials_frame
    from xltune.backends import get_backend

    module = xltune.parse(exe.stages["input"])
    key = key_of(key_parts(module, get_backend(exe.backend)))
    rows = tuned_configs()
    row = rows[rows["key"] == key]
    if row.empty or not row.iloc[0]["study_name"]:
        return None, None, ["built with a stored tuned Config; the store names no study for it"]
    r = row.iloc[0]
    study = optuna.load_study(study_name=r["study_name"], storage=resolve_url(None))
    default_s = float(r["default_s"]) if r["default_s"] and np.isfinite(r["default_s"]) else None
    lines = [f"stored tuning: study {r['study_name']}, {r['n_trials']} trials",
             f"best config: {r['config_json']}"]
    if default_s and r["best_s"]:
        lines.insert(1, f"default {format_seconds(default_s)}, best {format_seconds(float(r['best_s']))}")
    return trials_frame(study), default_s, lines


def write_html(report: Report, path) -> Path:
    return report.save(path)
