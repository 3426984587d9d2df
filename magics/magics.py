"""`%%xla`, `%xla_tune`, `%xla_report`.

Errors raise (a headless run of a notebook must fail loudly); errors in the cell's own text
name its line and column. Every displayed object has an HTML form without scripts and a
text/plain form.
"""
from __future__ import annotations

import json
import keyword

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

import xltune
from xltune.backends import backend_names
from xltune.config import Config, as_config
from xltune.errors import XltuneError
from xltune.executable import Executable

from .cell import CellError, cell_error, language, python_program, stablehlo_program
from .registry import Entry


@magics_class
class XlaMagics(Magics):
    def __init__(self, shell=None):
        super().__init__(shell)
        self.entries: dict[str, Entry] = {}

    # ---- %%xla -----------------------------------------------------------------------------------
    @magic_arguments()
    @argument("--backend", "-b", default="cpu", choices=backend_names(), help="where it runs (default cpu)")
    @argument("--name", "-n", help="the name to bind the compiled program to (default: the function's "
                                   "name for Python, the module's name for StableHLO)")
    @argument("--fn", help="the function of a Python cell to compile (default: the last one it defines)")
    @argument("--lang", choices=["stablehlo", "python"], help="the cell's language (default: detected)")
    @argument("--config", "-c", help="a Config: JSON text, or the name of a variable holding a Config/dict")
    @argument("--pipeline", help="the pass pipeline, e.g. 'simplify,fusion,buffers'")
    @argument("--no-tuned", action="store_true", help="ignore a stored tuned Config for this program")
    @argument("--args", help="an expression giving the inputs to time on (default: random inputs)")
    @argument("--budget", type=float, default=0.2, help="seconds of measuring per implementation (0.2)")
    @argument("--no-timing", action="store_true", help="compile and bind only, no timing")
    @argument("--no-xla", action="store_true", help="do not time XLA (jax)")
    @argument("--quiet", "-q", action="store_true", help="show nothing (the program is still bound)")
    @cell_magic
    def xla(self, line, cell):
        """Compile the cell (StableHLO text, or Python with `import xltune.numpy as xnp` and an
        annotated `def`), bind the Executable, and show its stages and timing."""
        __tracebackhide__ = True
        opts = parse_argstring(self.xla, line)
        if not cell.strip():
            raise UsageError("%%xla: the cell is empty; give StableHLO text or a Python def")
        kind = opts.lang or language(cell)
        cp = (python_program(cell, self.shell.user_ns, opts.fn) if kind == "python"
              else stablehlo_program(cell))
        name = _bind_name(opts.name or cp.default_name)
        config = self._config(opts.config)
        try:
            exe = xltune.compile(cp.program, backend=opts.backend, config=config, pipeline=opts.pipeline,
                                 use_tuned=not opts.no_tuned)
        except XltuneError as e:
            mapped = cell_error(e, cell, (cp.filename,))
            if mapped is e:
                raise
            raise mapped from None
        self.shell.user_ns[name] = exe
        entry = Entry(name, cp.kind, cp.program, opts.backend, exe, opts.pipeline, self._args(opts.args))
        self.entries[name] = entry
        if opts.quiet:
            return None
        from xltune.reports import Summary
        notes = [f"bound to {name!r} ({exe.backend}); call {name}(...) with numpy arrays"]
        if not opts.no_timing:
            notes += self._time(entry, opts.budget, not opts.no_xla)
        return Summary(exe, name, entry.timing, notes)

    def _time(self, entry: Entry, budget: float, xla: bool) -> list[str]:
        from xltune.reports import timing_frame
        try:
            entry.timing = timing_frame(entry.exe, entry.args, budget_s=budget, xla=xla)
        except XltuneError as e:  # e.g. a parameter random inputs cannot be made for
            return [f"timing skipped: {e}"]
        return []

    # ---- %xla_tune --------------------------------------------------------------------------------
    @magic_arguments()
    @argument("name", help="a program compiled with %%xla (or any Executable or annotated function)")
    @argument("--trials", "-t", type=int, default=20, help="the study's total trials (20)")
    @argument("--timeout", type=float, help="stop starting trials after this many seconds")
    @argument("--storage", help="an Optuna storage URL (default: SQLite in the cache dir)")
    @argument("--study", help="join or resume this study (default: a fresh one)")
    @argument("--budget", type=float, default=0.1, help="seconds of measuring per trial (0.1)")
    @argument("--final-budget", type=float, default=0.5,
              help="seconds for the paired re-measurement of the finalists (0.5)")
    @argument("--sampler", default="tpe", choices=["tpe", "random", "nsga2"])
    @argument("--seed", type=int)
    @argument("--args", help="an expression giving the inputs to tune on (default: those of %%xla, else random)")
    @argument("--no-isolate", action="store_true", help="run trials in this process (no worker process)")
    @argument("--no-plot", action="store_true", help="no live plot")
    @argument("--quiet", "-q", action="store_true", help="no progress bar and no live plot")
    @line_magic
    def xla_tune(self, line):
        """Autotune a compiled program with a progress bar and a live plot; rebind it to the tuned
        Executable and show default vs tuned time and the winning Config."""
        __tracebackhide__ = True
        opts = parse_argstring(self.xla_tune, line)
        entry = self._entry(opts.name)
        if entry.backend == "interpreter":
            raise UsageError(f"%xla_tune: {opts.name} runs on the interpreter, which has nothing to tune; "
                             f"compile it with --backend cpu")
        args = self._args(opts.args) if opts.args else entry.args
        from xltune.autotune import tune
        from .display import TuneSummary
        from .live import LivePlot

        plot = None
        if not (opts.quiet or opts.no_plot):
            plot = LivePlot(f"{opts.name}: autotuning ({entry.backend})")
            plot.start()
        result = tune(entry.program, backend=entry.backend, trials=opts.trials, timeout=opts.timeout,
                      storage=_unquote(opts.storage), study_name=_unquote(opts.study), sampler=opts.sampler,
                      isolate=not opts.no_isolate, args=args, budget=opts.budget,
                      final_budget=opts.final_budget, pipeline=entry.pipeline, seed=opts.seed,
                      progress=not opts.quiet, callbacks=[plot] if plot is not None else ())
        if plot is not None:
            plot.finish(result)
        # the stored tuned Config, found the way any later compile finds it ("tuned"); explicit
        # when the store is off (XLTUNE_NO_TUNED) or holds another study's choice
        tuned = xltune.compile(entry.program, backend=entry.backend, pipeline=entry.pipeline)
        if tuned.config != result.best_config:
            tuned = xltune.compile(entry.program, backend=entry.backend, config=result.best_config,
                                   pipeline=entry.pipeline)
        entry.exe, entry.tuning, entry.timing = tuned, result, None
        self.shell.user_ns[opts.name] = tuned
        knobs = xltune.knobs(entry.program, backend=entry.backend, pipeline=entry.pipeline,
                             config=result.best_config)
        return TuneSummary(opts.name, result, tuned, knobs)

    # ---- %xla_report ------------------------------------------------------------------------------
    @magic_arguments()
    @argument("name", help="a program compiled with %%xla (or any Executable or annotated function)")
    @argument("--html", metavar="OUT", help="also write the report to this self-contained HTML file")
    @argument("--budget", type=float, default=0.3, help="seconds of measuring per implementation (0.3)")
    @argument("--args", help="an expression giving the inputs to time on")
    @argument("--no-xla", action="store_true", help="do not time XLA (jax)")
    @argument("--no-interpreter", action="store_true", help="do not time the interpreter")
    @line_magic
    def xla_report(self, line):
        """A performance report: stats, per-pass seconds, fusion log, timing vs the interpreter
        and XLA, bandwidth vs the machine's copy bandwidth, the tuning history."""
        __tracebackhide__ = True
        opts = parse_argstring(self.xla_report, line)
        entry = self._entry(opts.name)
        args = self._args(opts.args) if opts.args else entry.args
        from xltune.reports import performance_report
        report = performance_report(entry.exe, opts.name, args, tuning=entry.tuning, budget_s=opts.budget,
                                    interpreter=not opts.no_interpreter, xla=not opts.no_xla)
        if opts.html:
            path = report.save(_unquote(opts.html))
            report.add("file", f"<div>written to <code>{path}</code></div>", f"written to {path}")
        return report

    # ---- helpers ----------------------------------------------------------------------------------
    def _entry(self, name: str) -> Entry:
        """The program bound to `name`: one %%xla compiled (as long as the name still holds it),
        else any Executable, else an annotated Python function (compiled for the CPU now)."""
        ns = self.shell.user_ns
        entry = self.entries.get(name)
        value = ns.get(name)
        if entry is not None and value is entry.exe:
            return entry
        if isinstance(value, Executable):
            entry = Entry(name, "executable", value.stages["input"], value.backend, value)
        elif callable(value) and hasattr(value, "__code__"):
            entry = Entry(name, "python", value, "cpu", xltune.compile(value, backend="cpu"))
        elif value is None and name not in ns:
            raise UsageError(f"no program named {name!r}: compile one with %%xla --name {name}")
        else:
            raise UsageError(f"{name!r} is a {type(value).__name__}, not a program compiled with %%xla")
        self.entries[name] = entry
        return entry

    def _config(self, text: str | None) -> Config | None:
        text = _unquote(text)
        if text is None:
            return None
        ns = self.shell.user_ns
        if text.isidentifier() and text in ns:
            return as_config(ns[text])
        try:
            return as_config(json.loads(text))
        except json.JSONDecodeError as e:
            raise UsageError(f"--config: not JSON ({e.msg} at column {e.colno}) and not a variable: {text!r}") from None

    def _args(self, expr: str | None):
        expr = _unquote(expr)
        if expr is None:
            return None
        value = self.shell.ev(expr)
        return list(value) if isinstance(value, (tuple, list)) else [value]


def _unquote(text: str | None) -> str | None:
    """IPython splits magic lines without removing quotes: '{"a": 1}' arrives quoted."""
    if text is not None and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _bind_name(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"cannot bind to {name!r}: not a Python identifier (give --name)")
    return name


__all__ = ["XlaMagics", "CellError"]
