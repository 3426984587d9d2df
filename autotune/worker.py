"""Trials in a worker process, so a crash or hang in generated code fails one trial, not the
caller (a notebook kernel survives a segfaulting kernel).

One worker is kept alive across trials (starting a process and importing xltune costs about a
second); after a crash or a timeout it is gone and the next trial starts a fresh one. The
worker talks to the tuner over a multiprocessing pipe: ("setup", EvalSpec), ("trial", config
JSON, prune?) with ("report", step, seconds) / ("prune", bool) exchanges for early pruning,
("paired", {name: config JSON}, budget, rounds), ("simplify", config JSON), ("exit",).
"""
from __future__ import annotations

import multiprocessing as mp
import signal
import time

from xltune.errors import TuningError

from .evaluate import EvalSpec, Evaluator

START_TIMEOUT_S = 180.0


def _worker_main(conn):  # runs in the worker process
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the caller, which stops us
    ev = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        op = msg[0]
        if op == "setup":
            try:
                ev = Evaluator(msg[1])
                conn.send(("ready", None))
            except Exception as e:  # noqa: BLE001
                conn.send(("setup_failed", f"{type(e).__name__}: {e}"))
        elif op == "trial":
            config_json, prune = msg[1], msg[2]

            def report(step, value, _prune=prune):
                if not _prune:
                    return False
                conn.send(("report", step, value))
                reply = conn.recv()
                return bool(reply[1])
            conn.send(("result", ev.run_trial(config_json, report)))
        elif op == "paired":
            conn.send(("result", ev.paired(msg[1], msg[2], msg[3])))
        elif op == "simplify":
            conn.send(("result", ev.simplify(msg[1])))
        elif op == "exit":
            return


def describe_exit(code) -> str:
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process died with {name} (signal {-code})"
    return f"the worker process exited with status {code}"


class IsolatedRunner:
    """Runs trials in one long-lived worker process with a per-trial timeout."""

    isolated = True

    def __init__(self, spec: EvalSpec):
        self.spec = spec
        self.proc = None
        self.conn = None
        self.starts = 0

    # ---- process management ------------------------------------------------------------------
    def _start(self):
        ctx = mp.get_context("spawn")  # never fork: the caller may hold threads (heartbeats, jax)
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="xltune-tune-worker")
        proc.start()
        child.close()
        self.proc, self.conn = proc, parent
        self.starts += 1
        parent.send(("setup", self.spec))
        if not parent.poll(START_TIMEOUT_S):
            self._kill()
            raise TuningError(f"the tuning worker did not start within {START_TIMEOUT_S:.0f} s")
        try:
            reply = parent.recv()
        except (EOFError, OSError):
            code = self._reap()
            raise TuningError(f"the tuning worker failed to start: {describe_exit(code)}") from None
        if reply[0] != "ready":
            self._kill()
            raise TuningError(f"the tuning worker could not load the program: {reply[1]}")

    def _reap(self):
        proc = self.proc
        code = None
        if proc is not None:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            code = proc.exitcode
        self._drop()
        return code

    def _kill(self):
        proc = self.proc
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
        self._drop()

    def _drop(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
        self.proc = self.conn = None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    # ---- calls ---------------------------------------------------------------------------------
    def _call(self, msg, timeout: float, on_report=None) -> dict:
        if self.proc is None:
            self._start()
        deadline = time.monotonic() + timeout
        try:
            self.conn.send(msg)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.conn.poll(remaining):
                    self._kill()
                    return {"status": "timeout",
                            "reason": f"no result within {timeout:.0f} s (hung or too slow); "
                                      f"the worker process was killed"}
                try:
                    reply = self.conn.recv()
                except (EOFError, OSError):
                    return {"status": "crash", "reason": describe_exit(self._reap())}
                if reply[0] == "report":
                    self.conn.send(("prune", bool(on_report(reply[1], reply[2])) if on_report else False))
                    continue
                return reply[1]
        except (BrokenPipeError, ConnectionResetError):
            return {"status": "crash", "reason": describe_exit(self._reap())}
        except BaseException:
            self._kill()  # interrupted mid-trial: the worker's state is unknown
            raise

    def trial(self, config_json: str, timeout: float, on_report=None) -> dict:
        return self._call(("trial", config_json, on_report is not None), timeout, on_report)

    def paired(self, configs: dict, budget_s: float, rounds: int, timeout: float) -> dict:
        return self._call(("paired", configs, budget_s, rounds), timeout)

    def simplify(self, config_json: str, timeout: float) -> dict:
        return self._call(("simplify", config_json), timeout)

    def close(self):
        if self.proc is not None:
            try:
                self.conn.send(("exit",))
            except OSError:
                pass
            self.proc.join(timeout=5)
            self._kill()


class InProcessRunner:
    """Trials in the caller's process (isolate=False): fastest, but a crash takes it down."""

    isolated = False

    def __init__(self, spec: EvalSpec):
        self.ev = Evaluator(spec)
        self.starts = 0

    pid = None

    def trial(self, config_json: str, timeout: float, on_report=None) -> dict:
        return self.ev.run_trial(config_json, on_report)

    def paired(self, configs: dict, budget_s: float, rounds: int, timeout: float) -> dict:
        return self.ev.paired(configs, budget_s, rounds)

    def simplify(self, config_json: str, timeout: float) -> dict:
        return self.ev.simplify(config_json)

    def close(self):
        pass
