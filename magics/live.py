"""The live tuning plot: per-trial time and best-so-far, redrawn in place after each trial.

It is a `tune(callbacks=[...])` callback, so it runs in the kernel's main thread, where a
display update reaches the cell that is running (updates from other threads may not).
"""
from __future__ import annotations

import time

from IPython.display import display

from xltune.reports.figures import FigureView, tuning_caption, tuning_figure


class LivePlot:
    def __init__(self, title: str, min_interval_s: float = 0.5):
        self.title = title
        self.min_interval_s = min_interval_s  # redrawing costs ~0.1 s; never let it dominate
        self.handle = None
        self._last = 0.0
        self.updates = 0
        self.failed = ""  # why drawing stopped, when it did

    def start(self):
        self.handle = display(_Waiting(self.title), display_id=True)

    def __call__(self, study, trial):
        now = time.monotonic()
        if self.failed or now - self._last < self.min_interval_s:
            return
        self._last = now
        from xltune.autotune.tuner import trials_frame
        try:
            frame = trials_frame(study)
            view = FigureView(tuning_figure(frame, title=self.title), tuning_caption(frame))
        except Exception as e:  # noqa: BLE001 - a drawing problem must not stop an hour of tuning
            self.failed = f"live plot stopped: {type(e).__name__}: {e}"
            self._show_text(self.failed)
            return
        self._show(view)

    def finish(self, result):
        self._show(FigureView(tuning_figure(result, title=self.title), tuning_caption(result)))

    def _show_text(self, text):
        if self.handle is not None:
            self.handle.update(_Waiting(self.title, text))

    def _show(self, view):
        self.updates += 1
        if self.handle is None:
            self.handle = display(view, display_id=True)
        else:
            self.handle.update(view)
        view.figure.clear()  # the PNG is what stays; free the figure's artists


class _Waiting:
    """The plot's place before its first drawing (or after drawing failed): text only."""

    def __init__(self, title, text="waiting for the first trial"):
        self.title = title
        self.text = text

    def __repr__(self):
        return f"[figure] {self.title}: {self.text}"
