"""`xltune conformance DIR...`: run StableHLO conformance files and report pass rates per op family.

Files: `testdata` modules (a public `@main` that asserts with `custom_call @check.expect_*`) and
`interpret` files (chunks separated by `// -----`; every public function without parameters is a
test, asserting with `check.expect_*` ops). A file passes when every test in it runs and every
check holds.

Backends: the interpreter evaluates the checks itself. For a compiled backend each test function
is rewritten first: the check ops are removed and the values they compare become extra outputs
(compared here, in Python, with the check dialect's rules), and the non-scalar constants feeding
the computed values are lifted into entry parameters passed as arguments, so code generation
really runs instead of constant folding everything away (`--no-lift` keeps them).

Every file runs in a worker process (`--jobs`) with a time limit, so a crash or a hang fails that
file only.
"""
from __future__ import annotations

import argparse
import contextlib
import fnmatch
import io
import json
import multiprocessing as mp
import os
import re
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np

from .errors import XltuneError

STATUSES = ("pass", "fail", "error", "timeout", "crash")
_DTYPE_TOKEN = re.compile(r"^(bool|u?int\d+|float\d+|bfloat16|complex\d+|float8\w*|f8\w*|i\d+|ui\d+|f\d+|bf16|c\d+)$")
_SPLIT = re.compile(r"^// -----\s*$", re.M)


def family(path) -> str:
    """The op family of a conformance file: its name up to the first dtype (or shape) token."""
    stem = Path(path).name
    if stem.endswith(".mlir"):
        stem = stem[:-5]
    out = []
    for tok in stem.split("_"):
        if not tok or _DTYPE_TOKEN.match(tok) or tok[0].isdigit() or tok == "shape":
            break
        out.append(tok)
    return "_".join(out) or stem


@dataclass
class FileResult:
    file: str
    family: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    tests: int = 0
    checks: int = 0
    path: str = ""


# ---- running one file -------------------------------------------------------------------------------
def _chunks(text: str) -> list[str]:
    return [c for c in _SPLIT.split(text) if c.strip()] if _SPLIT.search(text) else [text]


def _test_functions(module) -> list[str]:
    names = []
    for name, fn in module.functions.items():
        if getattr(fn, "visibility", "public") != "public" or fn.params:
            continue
        names.append(name)
    if module.entry_name in names:  # @main first where there is one
        names.remove(module.entry_name)
        names.insert(0, module.entry_name)
    return names


def _check_kind(inst):
    """(kind, is_custom_call) for a check instruction, else None."""
    if inst.opcode == "custom_call":
        t = inst.attrs.get("call_target_name", "")
        if t in ("check.expect_eq", "check.expect_close", "check.expect_almost_eq"):
            return t[len("check."):], True
        return None
    if inst.opcode in ("expect_eq", "expect_close", "expect_almost_eq"):
        return inst.opcode, False
    if inst.opcode == "expect_eq_const":
        return "expect_eq", False
    if inst.opcode == "expect_almost_eq_const":
        return "expect_almost_eq", False
    return None


def _count_checks(fn) -> int:
    return sum(1 for i in fn.walk() if _check_kind(i) is not None)


def run_function_interpreter(module, name: str) -> int:
    from .interpreter import Evaluator
    fn = module.functions[name]
    Evaluator(module).run(fn, [])
    return _count_checks(fn)


@dataclass
class _Check:
    kind: str
    custom_call: bool
    attrs: dict
    dtype: object
    actual: int                 # output index
    expected: object            # ('const', array) | ('out', index)
    name: str = ""


def instrument(module, name: str, lift: bool = True):
    """A copy of `module` whose entry is `name` with its checks turned into outputs.

    Returns (module, checks, args): `checks` says how to compare the extra outputs, `args` are
    the values of the lifted constants (the new entry parameters, in order)."""
    m = module.clone()
    m.entry_name = name
    fn = m.functions[name]
    for inst in fn.walk():
        if inst.parent is not fn and _check_kind(inst) is not None:
            raise XltuneError(f"{inst.ref}: a check inside a region cannot be turned into an output")
    outs = list(fn.outputs)
    checks: list[_Check] = []
    for inst in list(fn.instructions):
        ck = _check_kind(inst)
        if ck is None:
            continue
        kind, cc = ck
        actual = inst.operands[0]
        outs.append(actual)
        a_idx = len(outs) - 1
        if inst.opcode.endswith("_const"):
            expected = ("const", np.asarray(inst.attrs["value"]))
        else:
            e = inst.operands[1]
            if e.opcode == "constant":
                expected = ("const", np.asarray(e.attrs["value"]))
            else:
                outs.append(e)
                expected = ("out", len(outs) - 1)
        checks.append(_Check(kind, cc, dict(inst.attrs), actual.type.dtype, a_idx, expected,
                             f"{inst.ref} ({inst.opcode}{' @' + inst.attrs.get('call_target_name', '') if cc else ''})"))
        if inst.users:
            raise XltuneError(f"{inst.ref}: check results are used")
        fn.remove(inst)
    fn.set_outputs(outs)
    _drop_dead_constants(fn)
    args = []
    if lift:
        for inst in list(fn.instructions):
            if inst.opcode != "constant" or inst.type.rank == 0:
                continue
            value = np.asarray(inst.attrs["value"])
            p = fn.add_parameter(inst.type, name=f"lifted_{inst.name}")
            fn.replace(inst, p)
            _replace_in_region_outputs(fn, inst, p)
            args.append(np.ascontiguousarray(np.broadcast_to(value, inst.type.shape)).astype(inst.type.dtype.np_dtype))
    return m, checks, args


def _replace_in_region_outputs(fn, old, new):
    # Computation.replace reroutes operands and the outputs of old's computation and its
    # ancestors; a region returning a captured value directly needs its outputs patched too
    for inst in fn.walk():
        for r in inst.regions:
            if old in r.outputs:
                r.set_outputs([new if o is old else o for o in r.outputs])


def _drop_dead_constants(fn):
    outputs = set(fn.outputs)  # region outputs read values too, without being users
    for inst in fn.walk():
        for r in inst.regions:
            outputs.update(r.outputs)
    changed = True
    while changed:
        changed = False
        for inst in list(fn.instructions):
            if inst.opcode == "constant" and not inst.users and inst not in outputs:
                fn.remove(inst)
                changed = True


def compare_outputs(checks: list[_Check], outs: list) -> None:
    """Raise CheckFailure for the first check that does not hold."""
    from .ir import dtypes as D
    from .ir.ops import _checks as C
    from .ir.ops._num import convert
    for c in checks:
        actual = np.asarray(outs[c.actual])
        if c.expected[0] == "const":
            exp = np.asarray(c.expected[1])
            if exp.dtype != c.dtype.np_dtype:
                exp = convert(exp, D.from_numpy(exp.dtype), c.dtype)
            exp = np.broadcast_to(exp, actual.shape)
        else:
            exp = np.asarray(outs[c.expected[1]])
        msg = C.run_check(c.kind, actual, exp, c.dtype, c.attrs, custom_call=c.custom_call)
        if msg:
            raise C.CheckFailure(f"{c.name} failed: {msg}")


def run_function_compiled(module, name: str, backend: str, lift: bool) -> int:
    import xltune
    m, checks, args = instrument(module, name, lift)
    exe = xltune.compile(m, backend=backend, use_tuned=False)
    outs = exe(*args)
    n_out = len(m.entry.outputs)
    outs = [outs] if n_out == 1 else list(outs)
    compare_outputs(checks, outs)
    return len(checks)


def run_file(path: str, backend: str = "interpreter", lift: bool = True, via_compile: bool = False) -> FileResult:
    """Run every test of one file in this process."""
    import xltune
    from .ir.ops._checks import CheckFailure

    p = Path(path)
    res = FileResult(p.name, family(p), "pass", path=str(p))
    t0 = time.perf_counter()
    try:
        text = p.read_text()
        # interpreter.print writes to stdout: keep it out of the report
        with np.errstate(all="ignore"), contextlib.redirect_stdout(io.StringIO()):
            for ci, chunk in enumerate(_chunks(text)):
                module = xltune.parse(chunk, source=str(p))
                for name in _test_functions(module):
                    res.tests += 1
                    try:
                        if backend == "interpreter" and not via_compile:
                            res.checks += run_function_interpreter(module, name)
                        else:
                            res.checks += run_function_compiled(module, name, backend, lift)
                    except CheckFailure as e:
                        if res.status == "pass":
                            res.status, res.reason = "fail", f"@{name}: {e}"
                    except XltuneError as e:
                        if res.status in ("pass", "fail"):
                            res.status, res.reason = "error", f"@{name}: {type(e).__name__}: {e}"
    except XltuneError as e:
        res.status, res.reason = "error", f"{type(e).__name__}: {e}"
    except Exception as e:  # a bug in xltune: report it with where it happened
        tb = traceback.extract_tb(e.__traceback__)[-1]
        res.status = "error"
        res.reason = f"internal {type(e).__name__}: {e} ({Path(tb.filename).name}:{tb.lineno})"
    res.seconds = time.perf_counter() - t0
    if len(res.reason) > 2000:
        res.reason = res.reason[:2000] + "..."
    return res


# ---- the worker pool ------------------------------------------------------------------------------------------
def _worker(conn, options):
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        r = run_file(path, **options)
        conn.send(asdict(r))


class _Slot:
    def __init__(self, ctx, options):
        self.ctx, self.options = ctx, options
        self.start()

    def start(self):
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.options), daemon=True)
        self.proc.start()
        child.close()
        self.path = None
        self.t0 = 0.0

    def send(self, path):
        self.path, self.t0 = path, time.perf_counter()
        self.conn.send(path)

    def kill(self):
        try:
            self.proc.kill()
            self.proc.join(5)
        except Exception:
            pass
        try:
            self.conn.close()
        except Exception:
            pass

    def stop(self):
        try:
            self.conn.send(None)
        except Exception:
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.kill()


def _start_method(backend: str) -> str:
    """fork is cheapest, but not safe once a threaded runtime lives in this process: a CUDA
    context (gpu), or jax's thread pools (a notebook that compared with XLA) — a child forked
    while one of their threads holds a lock can deadlock. Then a fresh interpreter per worker."""
    methods = mp.get_all_start_methods()
    if backend == "gpu" or "fork" not in methods or "jax" in sys.modules or "cupy" in sys.modules:
        return "forkserver" if "forkserver" in methods and backend != "gpu" else "spawn"
    return "fork"


def run_files(paths: list[str], backend: str = "interpreter", jobs: int = 1, timeout: float = 120.0,
              lift: bool = True, via_compile: bool = False, progress=None) -> list[FileResult]:
    """Run files in `jobs` worker processes (0: in this process, no time limit)."""
    options = dict(backend=backend, lift=lift, via_compile=via_compile)
    if jobs <= 0:
        out = []
        for p in paths:
            r = run_file(p, **options)
            out.append(r)
            if progress:
                progress(r)
        return out
    ctx = mp.get_context(_start_method(backend))
    pending = list(reversed(paths))
    results: dict[str, FileResult] = {}
    slots = [_Slot(ctx, options) for _ in range(min(jobs, max(len(paths), 1)))]
    try:
        for s in slots:
            if pending:
                s.send(pending.pop())
        while any(s.path is not None for s in slots):
            busy = [s for s in slots if s.path is not None]
            now = time.perf_counter()
            wait_for = max(0.05, min(timeout - (now - s.t0) for s in busy))
            ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=wait_for)
            for s in busy:
                r = None
                path = s.path
                if s.conn in ready:
                    try:
                        r = FileResult(**s.conn.recv())
                    except (EOFError, OSError):
                        r = None
                    if r is None:
                        r = _lost(s, "crash", "the worker process died")
                        s.kill()
                        s.start()
                elif s.proc.sentinel in ready or not s.proc.is_alive():
                    r = _lost(s, "crash", f"the worker process died (exit code {s.proc.exitcode})")
                    s.kill()
                    s.start()
                elif time.perf_counter() - s.t0 > timeout:
                    r = _lost(s, "timeout", f"no result within {timeout:g} s")
                    s.kill()
                    s.start()
                if r is not None:
                    results[path] = r
                    if progress:
                        progress(r)
                    s.path = None
                    if pending:
                        s.send(pending.pop())
    finally:
        for s in slots:
            s.stop()
    return [results[p] for p in paths]


def _lost(slot, status, reason) -> FileResult:
    p = Path(slot.path)
    return FileResult(p.name, family(p), status, reason, time.perf_counter() - slot.t0, path=str(p))


# ---- reporting -------------------------------------------------------------------------------------------------
def summarize(results: list[FileResult]) -> dict:
    fams: dict[str, dict] = {}
    for r in results:
        f = fams.setdefault(r.family, {s: 0 for s in STATUSES} | {"total": 0})
        f[r.status] += 1
        f["total"] += 1
    for f in fams.values():
        f["rate"] = f["pass"] / f["total"] if f["total"] else 0.0
    total = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
    total["total"] = len(results)
    total["rate"] = total["pass"] / len(results) if results else 0.0
    return {"overall": total, "families": dict(sorted(fams.items()))}


def format_report(summary: dict, results: list[FileResult], show_failures: int = 50) -> str:
    lines = [f"{'family':32s} {'pass':>5s} {'fail':>5s} {'error':>5s} {'t/o':>4s} {'crash':>5s} {'total':>5s} {'rate':>7s}"]
    for name, f in summary["families"].items():
        lines.append(f"{name:32s} {f['pass']:5d} {f['fail']:5d} {f['error']:5d} {f['timeout']:4d} {f['crash']:5d} "
                     f"{f['total']:5d} {100 * f['rate']:6.1f}%")
    o = summary["overall"]
    lines.append(f"{'OVERALL':32s} {o['pass']:5d} {o['fail']:5d} {o['error']:5d} {o['timeout']:4d} {o['crash']:5d} "
                 f"{o['total']:5d} {100 * o['rate']:6.1f}%")
    bad = [r for r in results if r.status != "pass"]
    if bad and show_failures:
        lines.append("")
        lines.append(f"not passing ({len(bad)}):")
        for r in bad[:show_failures]:
            reason = r.reason.splitlines()[0] if r.reason else ""
            lines.append(f"  {r.status:7s} {r.file}: {reason[:300]}")
        if len(bad) > show_failures:
            lines.append(f"  ... and {len(bad) - show_failures} more (see --json)")
    return "\n".join(lines)


def collect(paths, filters=None) -> list[str]:
    files = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files.extend(sorted(str(f) for f in p.rglob("*.mlir")))
        elif p.exists():
            files.append(str(p))
        else:
            raise XltuneError(f"no such file or directory: {p}")
    if filters:
        files = [f for f in files if any(fnmatch.fnmatch(Path(f).name, g) or fnmatch.fnmatch(f, g)
                                         for g in filters)]
    return files


# ---- the command ------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="DIR", help="directories (searched for *.mlir) or files")
    parser.add_argument("--backend", default="interpreter", choices=("interpreter", "cpu", "gpu"))
    parser.add_argument("--json", metavar="OUT", help="write per-file results and the summary as JSON")
    parser.add_argument("--filter", action="append", metavar="GLOB",
                        help="only files whose name matches (repeatable)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                        help="worker processes (0: run in this process, without time limits)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per file (default 120)")
    parser.add_argument("--min-rate", type=float, default=0.0,
                        help="exit non-zero when the overall pass rate (0..1 or percent) is below this")
    parser.add_argument("--no-lift", action="store_true",
                        help="compiled backends: keep constants instead of passing them as arguments")
    parser.add_argument("--via-compile", action="store_true",
                        help="interpreter: go through the compiled backends' path (checks as outputs)")
    parser.add_argument("--failures", type=int, default=50, help="list at most this many failing files")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the overall line")


def run(args) -> int:
    files = collect(args.paths, args.filter)
    if not files:
        raise XltuneError("no .mlir files found")
    t0 = time.perf_counter()
    results = run_files(files, backend=args.backend, jobs=args.jobs, timeout=args.timeout,
                        lift=not args.no_lift, via_compile=args.via_compile)
    summary = summarize(results)
    summary["backend"] = args.backend
    summary["seconds"] = time.perf_counter() - t0
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "files": [asdict(r) for r in results]}, f, indent=1)
    if args.quiet:
        o = summary["overall"]
        print(f"{o['pass']}/{o['total']} passed ({100 * o['rate']:.1f}%) in {summary['seconds']:.1f} s")
    else:
        print(format_report(summary, results, args.failures))
        print(f"\n{len(files)} file(s) in {summary['seconds']:.1f} s with backend {args.backend}")
    min_rate = args.min_rate / 100 if args.min_rate > 1 else args.min_rate
    return 0 if summary["overall"]["rate"] >= min_rate else 1
