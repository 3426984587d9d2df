"""`xltune run FILE`: compile a program, run it on random inputs, show what the compiler did."""
from __future__ import annotations

import json
import sys

import numpy as np

from .errors import XltuneError
from .ir.types import TensorType


def random_inputs(param_types, seed: int = 0) -> list[np.ndarray]:
    """Argument i from numpy.random.default_rng(seed + i): standard normal floats, small ints,
    random booleans — the same convention as the benchmark workloads."""
    out = []
    for i, t in enumerate(param_types):
        if not isinstance(t, TensorType):
            raise XltuneError(f"argument {i} has type {t}: `xltune run` can only make tensor inputs")
        rng = np.random.default_rng(seed + i)
        dt = t.dtype
        if dt.is_pred:
            a = rng.integers(0, 2, t.shape).astype(bool)
        elif dt.is_int:
            a = rng.integers(0, 8 if dt.is_unsigned else 5, t.shape) - (0 if dt.is_unsigned else 2)
        elif dt.is_complex:
            a = rng.standard_normal(t.shape) + 1j * rng.standard_normal(t.shape)
        else:
            a = rng.standard_normal(t.shape)
        out.append(np.asarray(a).astype(dt.np_dtype))
    return out


def add_arguments(p):
    p.add_argument("file", help="a StableHLO .mlir file")
    p.add_argument("--backend", default="cpu", choices=["cpu", "gpu", "interpreter"])
    p.add_argument("--config", default=None, help="a Config as JSON (default: tuned if stored, else defaults)")
    p.add_argument("--stage", action="append", default=[], metavar="NAME",
                   help="print this stage's text (repeatable; 'all' prints every stage)")
    p.add_argument("--check", action="store_true", help="compare the outputs with the interpreter's")
    p.add_argument("--time", type=float, default=0.0, metavar="S", help="measure the run time for S seconds")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")


def run(args) -> int:
    import xltune
    from .bench.suite import max_rel_error
    from .measure import measure

    config = json.loads(args.config) if args.config else None
    exe = xltune.compile(args.file, backend=args.backend, config=config)
    inputs = random_inputs(exe.param_types, args.seed)
    out = exe(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    print(f"{args.file}: backend {args.backend}, config source {exe.stats.get('config_source')}")
    for i, o in enumerate(outs):
        arr = np.asarray(o)
        desc = f"shape {arr.shape} {arr.dtype}"
        if arr.size and arr.dtype.kind in "fc":
            desc += f", mean {np.mean(arr):.6g}, max |x| {np.max(np.abs(arr)):.6g}"
        print(f"  output {i}: {desc}")
    keys = ("ops_before", "ops_after", "kernels", "fallback_ops", "peak_bytes", "naive_bytes", "compile_seconds")
    print("  stats: " + ", ".join(f"{k}={exe.stats[k]}" for k in keys if k in exe.stats))
    print("  stages: " + ", ".join(exe.stages))
    if args.check and args.backend != "interpreter":
        ref = xltune.compile(args.file, backend="interpreter")(*inputs)
        print(f"  max relative error vs the interpreter: {max_rel_error(out, ref):.3g}")
    if args.time > 0:
        print(f"  run time: {measure(lambda: exe(*inputs), budget_s=args.time)}")
    wanted = list(exe.stages) if "all" in args.stage else args.stage
    for name in wanted:
        if name not in exe.stages:
            print(f"xltune run: no stage {name!r} (have: {', '.join(exe.stages)})", file=sys.stderr)
            return 1
        print(f"\n---- {name} ----\n{exe.stages[name]}")
    return 0
