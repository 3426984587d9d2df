"""How xltune takes time — one place for the benchmark suite, the autotuner and the magics.

Warm-up first, then samples until a time budget is spent (not a fixed count); very short calls
are batched so the timer's own cost does not dominate. The result is the median with its spread
(IQR) and a distribution-free confidence interval, plus a `noisy` flag when the spread is large.
Compile time is never mixed in: callers time compilation separately.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

NOISY_REL_IQR = 0.10  # spread above 10% of the median marks a measurement as noisy


@dataclass
class Measurement:
    """Per-call times in seconds and their summary."""
    samples: np.ndarray = field(repr=False)
    batch: int = 1  # calls per sample

    @property
    def n(self) -> int:
        return int(self.samples.size)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def q1(self) -> float:
        return float(np.percentile(self.samples, 25))

    @property
    def q3(self) -> float:
        return float(np.percentile(self.samples, 75))

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def min(self) -> float:
        return float(self.samples.min())

    @property
    def mean(self) -> float:
        return float(self.samples.mean())

    @property
    def rel_spread(self) -> float:
        m = self.median
        return self.iqr / m if m > 0 else 0.0

    @property
    def noisy(self) -> bool:
        return self.n < 5 or self.rel_spread > NOISY_REL_IQR

    def median_ci(self, confidence: float = 0.95) -> tuple[float, float]:
        """Order-statistic confidence interval of the median (no normality assumed)."""
        s = np.sort(self.samples)
        n = s.size
        if n < 3:
            return float(s[0]), float(s[-1])
        z = _z(confidence)
        half = z * math.sqrt(n) / 2
        lo = max(0, int(math.floor(n / 2 - half)))
        hi = min(n - 1, int(math.ceil(n / 2 + half)))
        return float(s[lo]), float(s[hi])

    def to_dict(self) -> dict:
        lo, hi = self.median_ci()
        return {"median_s": self.median, "q1_s": self.q1, "q3_s": self.q3, "iqr_s": self.iqr,
                "min_s": self.min, "n": self.n, "batch": self.batch, "ci95_low_s": lo,
                "ci95_high_s": hi, "noisy": self.noisy}

    def __str__(self) -> str:
        flag = " (noisy)" if self.noisy else ""
        return f"{format_seconds(self.median)} ± {format_seconds(self.iqr / 2)} (IQR/2, n={self.n}){flag}"


def _z(confidence: float) -> float:
    # two-sided normal quantiles for the usual levels; enough for an order-statistic CI
    table = {0.90: 1.645, 0.95: 1.960, 0.99: 2.576}
    return table.get(round(confidence, 2), 1.960)


def format_seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.3f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.2f} µs"
    return f"{s * 1e9:.0f} ns"


def measure(fn: Callable[[], object], *, budget_s: float = 0.5, warmup_s: float = 0.05,
            min_samples: int = 7, max_samples: int = 2000, min_sample_s: float = 2e-4,
            sync: Callable[[], object] | None = None) -> Measurement:
    """Time `fn()` (CPU wall clock, perf_counter_ns).

    Calls shorter than `min_sample_s` are batched into one sample of several calls; `sync` (for
    asynchronous devices) is called before each clock read.
    """
    clock = time.perf_counter_ns
    # warm-up: at least one call, until warmup_s has passed
    t_end = clock() + int(warmup_s * 1e9)
    calls, t0 = 0, clock()
    while True:
        fn()
        calls += 1
        if sync:
            sync()
        if clock() >= t_end:
            break
    per_call = max((clock() - t0) / calls, 1.0) * 1e-9
    batch = max(1, int(math.ceil(min_sample_s / per_call)))
    deadline = clock() + int(budget_s * 1e9)
    samples: list[float] = []
    while len(samples) < max_samples:
        start = clock()
        for _ in range(batch):
            fn()
        if sync:
            sync()
        samples.append((clock() - start) * 1e-9 / batch)
        if len(samples) >= min_samples and clock() >= deadline:
            break
    return Measurement(np.asarray(samples), batch)


def measure_paired(fns: dict[str, Callable[[], object]], *, rounds: int = 15, budget_s: float = 1.0,
                   min_sample_s: float = 1e-3, max_rounds: int = 5000,
                   sync: Callable[[], object] | None = None) -> dict[str, Measurement]:
    """Measure several candidates in alternation (A B C A B C ...), so slow drifts of a shared,
    noisy machine hit all of them alike. Used to pick a tuning winner.

    At least `rounds` rounds, and more until `budget_s` is spent; each candidate's sample batches
    enough calls to last `min_sample_s`, so sub-millisecond kernels are not judged on single calls.
    """
    batches: dict[str, int] = {}
    for name, fn in fns.items():  # warm up and calibrate each candidate's batch
        m = measure(fn, budget_s=0.0, warmup_s=0.01, min_samples=1, max_samples=3,
                    min_sample_s=min_sample_s, sync=sync)
        batches[name] = m.batch
    out: dict[str, list[float]] = {k: [] for k in fns}
    deadline = time.perf_counter_ns() + int(budget_s * 1e9)
    for r in range(max_rounds):
        if r >= rounds and time.perf_counter_ns() >= deadline:
            break
        for name, fn in fns.items():
            b = batches[name]
            start = time.perf_counter_ns()
            for _ in range(b):
                fn()
            if sync:
                sync()
            out[name].append((time.perf_counter_ns() - start) * 1e-9 / b)
    return {k: Measurement(np.asarray(v), batches[k]) for k, v in out.items()}


def faster_beyond_noise(candidate: Measurement, baseline: Measurement, min_gain: float = 0.02) -> bool:
    """True when candidate's median is below baseline's by more than both the noise and min_gain:
    the candidate's CI upper bound lies under the baseline's CI lower bound."""
    c_lo, c_hi = candidate.median_ci()
    b_lo, b_hi = baseline.median_ci()
    return c_hi < b_lo and candidate.median < baseline.median * (1 - min_gain)


def copy_bandwidth(nbytes: int = 256 << 20, budget_s: float = 0.5) -> tuple[float, Measurement]:
    """The machine's copy bandwidth in bytes/s (read + write counted), measured now with numpy."""
    n = nbytes // 8
    src = np.ones(n, dtype=np.float64)
    dst = np.empty_like(src)
    m = measure(lambda: np.copyto(dst, src), budget_s=budget_s, warmup_s=0.05, min_samples=5)
    return 2 * n * 8 / m.median, m
