"""One trial: build a Config, check it against the interpreter, measure it.

`Evaluator` runs inside the tuning worker process (or in the caller's process when
isolate=False). It holds plain data only — program text, backend name, input arrays, the
interpreter's outputs — so it can be set up in a fresh process. Measuring goes through
`xltune.measure`, the same code `xltune bench` uses.
"""
from __future__ import annotations

import ctypes
import os
import time
import traceback
from dataclasses import dataclass
from typing import Callable

import numpy as np

from xltune import measure as M
from xltune.config import Config
from xltune.errors import TuningError, XltuneError

# Test-only fault injection (see docs/autotune.md): "segv:KNOB=VALUE;hang:KNOB=VALUE;raise:KNOB=VALUE"
# makes a trial whose Config sets KNOB to VALUE crash, hang or raise right after it is built,
# standing in for bad generated code.
FAULT_ENV = "XLTUNE_TEST_FAULT"

# (rtol, atol) for the correctness gate, by output dtype kind and size
FLOAT_TOLERANCES = {8: (1e-7, 1e-7), 4: (2e-3, 2e-4), 2: (2e-2, 2e-2)}


@dataclass
class EvalSpec:
    """Everything a worker needs to evaluate trials; plain data, picklable."""
    program: str                  # StableHLO text
    backend: str
    backend_path: str | None      # "module:Class", so a backend registered at run time is found
    pipeline: str | None
    args: list
    expected: list
    rtol: float | None = None
    atol: float | None = None
    budget_s: float = 0.2         # measuring time per trial
    objectives: tuple = ("time_s",)


def make_inputs(module, seed: int = 0) -> list[np.ndarray]:
    """Random arguments for the entry: argument i from numpy.random.default_rng(seed + i)
    (standard normal for floats, small integers, random booleans)."""
    from xltune.ir.types import TensorType
    out = []
    for i, p in enumerate(module.entry.params):
        t = p.type
        if not isinstance(t, TensorType):
            raise TuningError(f"argument {i} has type {t}: pass args= to tune it")
        rng = np.random.default_rng(seed + i)
        dt = np.dtype(t.dtype.np_dtype)
        shape = tuple(t.shape)
        if dt == np.bool_:
            a = rng.random(shape) < 0.5
        elif dt.kind in "iu":
            lo = 0 if dt.kind == "u" else -8
            a = rng.integers(lo, 8, size=shape)
        elif dt.kind == "c":
            a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        else:
            a = rng.standard_normal(shape)
        out.append(np.asarray(a).astype(dt))
    return out


def as_list(outs) -> list:
    return list(outs) if isinstance(outs, (tuple, list)) else [outs]


def compare_outputs(got: list, want: list, rtol: float | None = None, atol: float | None = None) -> str | None:
    """None when got matches want (the interpreter's outputs), else why not."""
    if len(got) != len(want):
        return f"{len(got)} outputs, the interpreter gives {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = np.asarray(g)
        w = np.asarray(w)
        if g.shape != w.shape:
            return f"output {i}: shape {g.shape}, the interpreter gives {w.shape}"
        if g.dtype != w.dtype:
            return f"output {i}: dtype {g.dtype}, the interpreter gives {w.dtype}"
        size = _float_size(w.dtype)
        if size is not None:
            r, a = FLOAT_TOLERANCES.get(size, (1.5e-1, 1.5e-1))
            r = r if rtol is None else rtol
            a = a if atol is None else atol
            wide = np.complex128 if w.dtype.kind == "c" else np.float64
            ok = np.isclose(g.astype(wide), w.astype(wide), rtol=r, atol=a, equal_nan=True)
        else:
            ok = g == w
        if not np.all(ok):
            bad = np.argwhere(~np.asarray(ok))
            idx = tuple(int(x) for x in bad[0]) if bad.size else ()
            n = int(bad.shape[0]) if bad.ndim == 2 else 1
            gv = g[idx] if idx else g
            wv = w[idx] if idx else w
            return (f"output {i}: {n} of {w.size} elements differ from the interpreter's; "
                    f"first at {list(idx)}: got {gv!r}, want {wv!r}")
    return None


def _float_size(dt) -> int | None:
    """Bytes per real component for floating dtypes (ml_dtypes' bfloat16/float8 included)."""
    dt = np.dtype(dt)
    if dt.kind == "f":
        return dt.itemsize
    if dt.kind == "c":
        return dt.itemsize // 2
    if dt.kind == "V" and dt.itemsize <= 2:  # ml_dtypes floats
        return dt.itemsize
    return None


def _fault(config: Config):
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    for item in spec.split(";"):
        if ":" not in item or "=" not in item:
            continue
        kind, cond = item.split(":", 1)
        knob, value = cond.split("=", 1)
        if knob.strip() in config and str(config[knob.strip()]) == value.strip():
            kind = kind.strip()
            if kind == "segv":
                ctypes.string_at(0)  # reads address 0: SIGSEGV, as broken generated code would
            elif kind == "hang":
                while True:
                    time.sleep(3600)
            elif kind == "raise":
                raise RuntimeError(f"injected failure for {knob}={value}")


def _peak_bytes(exe) -> float:
    plan = getattr(exe.module, "buffer_plan", None)
    for v in (getattr(plan, "peak_bytes", None), exe.stats.get("peak_bytes"),
              exe.stats.get("arena_bytes")):
        if v is not None:
            return float(v)
    return float(sum(t.nbytes for t in exe.output_types if hasattr(t, "nbytes")))


class Evaluator:
    """Builds, checks and measures Configs of one program on one backend."""

    def __init__(self, spec: EvalSpec):
        from xltune.compiler import get_backend, load_program
        self.spec = spec
        if spec.backend_path:
            from xltune import backends as B
            B._BACKENDS.setdefault(spec.backend, spec.backend_path)
        self.backend = get_backend(spec.backend)
        self.module, _ = load_program(spec.program)
        self.args = [np.asarray(a) for a in spec.args]
        self.expected = [np.asarray(e) for e in spec.expected]

    def build(self, config: Config):
        from xltune.compiler import build, optimize
        t0 = time.perf_counter()
        stages: dict = {}
        stats: dict = {"config_source": "explicit"}
        module = optimize(self.module.clone(), self.backend, config, stages, stats, self.spec.pipeline)
        exe = build(module, self.backend, config, stages, stats, t0)
        return exe, time.perf_counter() - t0

    def check(self, exe) -> str | None:
        got = as_list(exe(*self.args))
        return compare_outputs(got, self.expected, self.spec.rtol, self.spec.atol)

    def run_trial(self, config_json: str, report: Callable[[int, float], bool] | None = None) -> dict:
        """Build, check, measure one Config. report(step, seconds) -> True means "prune"."""
        config = Config.from_json(config_json)
        res: dict = {"status": "error", "pid": os.getpid()}
        try:
            exe, compile_s = self.build(config)
            res["compile_s"] = compile_s
            res["kernels"] = exe.stats.get("kernels")
            _fault(config)
            reason = self.check(exe)
            if reason is not None:
                return dict(res, status="mismatch", reason=reason)
            fn = lambda: exe(*self.args)  # noqa: E731
            b = self.spec.budget_s
            first = M.measure(fn, budget_s=max(0.25 * b, 0.01), warmup_s=min(0.05, 0.25 * b),
                              min_samples=5)
            # the pruner sees the quick reading's fastest sample: load only ever adds time, so a
            # trial is stopped only when even that is clearly slower than the best so far
            if report is not None and report(0, first.min):
                return dict(res, status="pruned", time_s=first.median, n=first.n,
                            rel_spread=first.rel_spread, noisy=first.noisy)
            rest = M.measure(fn, budget_s=max(0.75 * b, 0.01), warmup_s=0.0, min_samples=5)
            m = M.Measurement(np.concatenate([first.samples, rest.samples]), rest.batch)
            res.update(status="ok", time_s=m.median, rel_spread=m.rel_spread, noisy=m.noisy, n=m.n,
                       iqr_s=m.iqr, peak_bytes=_peak_bytes(exe))
            return res
        except XltuneError as e:
            return dict(res, status="error", reason=f"{type(e).__name__}: {e}")
        except Exception as e:  # noqa: BLE001 - a broken Config fails its trial, not the study
            tb = traceback.extract_tb(e.__traceback__)
            where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
            return dict(res, status="error", reason=f"{type(e).__name__}: {e}{where}")

    def program_text(self, config: Config) -> tuple:
        """What a Config makes: every stage's text but the input and the decision logs."""
        exe, _ = self.build(config)
        return tuple((k, v) for k, v in exe.stages.items() if k != "input" and not k.endswith("_log"))

    def simplify(self, config_json: str) -> dict:
        """Drop the entries of a Config that don't change the program it builds (knobs of a
        policy that found nothing to act on, say); {"config": JSON, "dropped": [names]}."""
        config = Config.from_json(config_json)
        values = dict(config)
        dropped = []
        try:
            target = self.program_text(config)
        except Exception:  # noqa: BLE001 - nothing to compare against: keep it as it is
            return {"config": config_json, "dropped": []}
        for name in sorted(config):
            fewer = Config({k: v for k, v in values.items() if k != name})
            try:
                same = self.program_text(fewer) == target
            except Exception:  # noqa: BLE001
                same = False
            if same:
                del values[name]
                dropped.append(name)
        return {"config": Config(values).to_json(), "dropped": dropped}

    def paired(self, configs: dict[str, str], budget_s: float, rounds: int = 15) -> dict:
        """Re-measure several Configs in alternation; {"samples": {name: [...]}, "batch": ...,
        "failed": {name: reason}}."""
        fns, failed = {}, {}
        for name, cj in configs.items():
            try:
                exe, _ = self.build(Config.from_json(cj))
                _fault(Config.from_json(cj))
                reason = self.check(exe)
            except Exception as e:  # noqa: BLE001
                reason = f"{type(e).__name__}: {e}"
            if reason is not None:
                failed[name] = reason
                continue
            fns[name] = (lambda exe=exe: exe(*self.args))
        ms = M.measure_paired(fns, rounds=rounds, budget_s=budget_s) if fns else {}
        return {"samples": {k: m.samples.tolist() for k, m in ms.items()},
                "batch": {k: m.batch for k, m in ms.items()}, "failed": failed}
