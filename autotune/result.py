"""TuningResult: what `tune` found, how sure it is, and every trial."""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

from xltune.config import Config
from xltune.measure import Measurement


@dataclass
class TuningResult:
    best_config: Config               # minimal form: knobs left at their default are absent
    default_time: Measurement | None  # paired re-measurement of the default Config
    best_time: Measurement | None     # ... and of best_config (the same object when it is the default)
    speedup: float                    # default_time.median / best_time.median
    study: object                     # the optuna.Study
    trials: object                    # pandas DataFrame, one row per trial of the study
    backend: str = "cpu"
    study_name: str = ""
    storage: str = ""                 # the storage URL, password masked
    chosen: str = "default"           # "default" or "trial N"
    objectives: tuple = ("time",)
    candidates: object = None         # DataFrame: the paired re-measurement of the finalists
    pareto: object = None             # DataFrame: the Pareto front (multi-objective studies)
    ran_here: int = 0                 # trials this call ran (the study may hold others' too)
    worker_starts: int = 0            # worker processes started (1 + restarts after crashes)
    stored_key: str | None = None     # the tuned-config row it was stored under
    notes: list = field(default_factory=list)

    @property
    def n_trials(self) -> int:
        return 0 if self.trials is None else len(self.trials)

    @property
    def default_s(self) -> float | None:
        return self.default_time.median if self.default_time is not None else None

    @property
    def best_s(self) -> float | None:
        return self.best_time.median if self.best_time is not None else None

    def trials_to_within(self, tol: float = 0.05) -> int | None:
        """How many trials (in trial order, failures included) it took until the best time so
        far was within `tol` of the study's final best; None when no trial completed."""
        df = self.trials
        if df is None or len(df) == 0 or "time_s" not in df:
            return None
        done = df[(df["state"] == "COMPLETE") & df["time_s"].notna()].sort_values("number")
        if done.empty:
            return None
        final = float(done["time_s"].min())
        best = np.minimum.accumulate(done["time_s"].to_numpy(dtype=float))
        hit = np.nonzero(best <= final * (1 + tol))[0][0]
        return int(done["number"].iloc[hit]) + 1

    def state_counts(self) -> dict:
        if self.trials is None or len(self.trials) == 0:
            return {}
        return {str(k): int(v) for k, v in self.trials["state"].value_counts().items()}

    def summary_lines(self) -> list[str]:
        lines = [f"study {self.study_name} on {self.storage}: {self.n_trials} trials "
                 f"({', '.join(f'{v} {k.lower()}' for k, v in self.state_counts().items())}), "
                 f"{self.ran_here} run here"]
        if self.default_time is not None:
            lines.append(f"default: {self.default_time}")
        if self.best_time is not None:
            lines.append(f"best ({self.chosen}): {self.best_time}")
        if self.speedup == self.speedup:
            lines.append(f"speedup over default: {self.speedup:.2f}x")
        t5 = self.trials_to_within(0.05)
        if t5 is not None:
            lines.append(f"trials to within 5% of the best: {t5}")
        lines.append(f"best config: {self.best_config.to_json()}")
        lines.extend(self.notes)
        return lines

    def __str__(self) -> str:
        return "\n".join(self.summary_lines())

    def __repr__(self) -> str:
        sp = f"{self.speedup:.2f}x" if self.speedup == self.speedup else "n/a"
        return (f"<TuningResult {self.backend} study={self.study_name!r} storage={self.storage!r} "
                f"trials={self.n_trials} chosen={self.chosen} speedup={sp} "
                f"best_config={self.best_config.to_json()}>")

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def _repr_html_(self) -> str:
        rows = "".join(f"<li>{html.escape(l)}</li>" for l in self.summary_lines())
        table = ""
        if self.candidates is not None and len(self.candidates):
            table = self.candidates.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<div><b>xltune tuning result</b><ul>{rows}</ul>{table}</div>"
