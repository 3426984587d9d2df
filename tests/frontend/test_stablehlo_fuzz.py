"""Fuzzing the parser: truncations and random edits of real files give only XltuneErrors that
carry a line and column (never an IndexError, a RecursionError, a numpy error or a hang), and
whatever still parses prints back to an equal module."""
from __future__ import annotations

import re
import signal
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from conftest import CONFORMANCE
from xltune.frontend.stablehlo import parse, split_chunks
from xltune.ir.printer import print_module

# A corpus that does not need ../shared, and a sample of the conformance files when present.
BUILTIN = [
    """module @jit_f attributes {mhlo.num_partitions = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf32> {mhlo.layout_mode = "default"}) -> (tensor<3xf32> {jax.result_info = ""}) {
    %cst = stablehlo.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
    %0 = stablehlo.add %arg0, %cst : tensor<2x3xf32>
    %c = stablehlo.constant dense<0xFF800000> : tensor<f32>
    %1 = stablehlo.reduce(%0 init: %c) applies stablehlo.maximum across dimensions = [0] : (tensor<2x3xf32>, tensor<f32>) -> tensor<3xf32>
    %2 = stablehlo.broadcast_in_dim %1, dims = [1] : (tensor<3xf32>) -> tensor<2x3xf32>
    %3 = stablehlo.compare  GT, %0, %2,  FLOAT : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
    %4 = stablehlo.select %3, %0, %2 : tensor<2x3xi1>, tensor<2x3xf32>
    %5 = call @helper(%1) : (tensor<3xf32>) -> tensor<3xf32>
    return %5 : tensor<3xf32>
  }
  func.func private @helper(%x: tensor<3xf32>) -> tensor<3xf32> {
    %h = stablehlo.constant dense<"0x0000803F0000004000004040"> : tensor<3xf32>
    %0 = stablehlo.multiply %x, %h : tensor<3xf32>
    return %0 : tensor<3xf32>
  }
}
""",
    """func.func @main() {
  %c0 = stablehlo.constant dense<0> : tensor<i64>
  %x = stablehlo.constant dense<[(1.0, 2.0), (3.0, -4.0)]> : tensor<2xcomplex<f64>>
  %r:2 = stablehlo.while(%it = %c0, %acc = %x) : tensor<i64>, tensor<2xcomplex<f64>>
   cond {
    %c3 = stablehlo.constant dense<3> : tensor<i64>
    %p = stablehlo.compare  LT, %it, %c3,  SIGNED : (tensor<i64>, tensor<i64>) -> tensor<i1>
    stablehlo.return %p : tensor<i1>
  } do {
    %c1 = stablehlo.constant dense<1> : tensor<i64>
    %n = stablehlo.add %it, %c1 : tensor<i64>
    %s = "stablehlo.sort"(%acc) <{dimension = 0 : i64}> ({
    ^bb0(%a: tensor<complex<f64>>, %b: tensor<complex<f64>>):
      %q = stablehlo.compare  LT, %a, %b,  FLOAT : (tensor<complex<f64>>, tensor<complex<f64>>) -> tensor<i1>
      stablehlo.return %q : tensor<i1>
    }) : (tensor<2xcomplex<f64>>) -> tensor<2xcomplex<f64>>
    stablehlo.return %n, %s : tensor<i64>, tensor<2xcomplex<f64>>
  }
  check.expect_eq_const %r#0, dense<3> : tensor<i64>
  func.return
}
""",
]


def _corpus():
    texts = list(BUILTIN)
    testdata = CONFORMANCE / "testdata"
    if testdata.exists():
        files = sorted(p for p in testdata.glob("*.mlir") if p.stat().st_size < 12000)
        texts += [p.read_text() for p in files[:: max(1, len(files) // 40)]]
    interpret = CONFORMANCE / "interpret"
    if interpret.exists():
        for p in sorted(interpret.glob("*.mlir"))[::4]:
            texts += [c for _, c in split_chunks(p.read_text())][:3]
    return texts


CORPUS = _corpus()
_TOKEN = re.compile(r'%[\w.$#-]+|@[\w.$-]+|"[^"\n]*"|[\w.$]+|->|\S')


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """A hard limit (SIGALRM) so that a hang fails the test instead of stalling the suite."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"parse took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check(text: str):
    with time_limit(10.0):
        try:
            m = parse(text, "fuzz.mlir")
        except xltune.XltuneError as e:
            assert e.loc is not None and e.line is not None and e.col is not None, repr(e)
            assert e.line >= 1 and e.col >= 1
            assert "internal parser error" not in str(e), str(e)
            return
    # it still parses: then it must round-trip too
    printed = print_module(m)
    again = parse(printed, "<printed>")
    assert m.equals(again), printed


FUZZ = settings(max_examples=250, deadline=timedelta(seconds=5), derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(st.integers(0, len(CORPUS) - 1), st.floats(0, 1))
def test_truncations(which, frac):
    text = CORPUS[which]
    check(text[: int(len(text) * frac)])


_CHARS = "{}()[]<>,:=%#@\"^!x-.0123456789 \nabcdefghijklmnopqrstuvwxyz_"


@st.composite
def edits(draw):
    text = CORPUS[draw(st.integers(0, len(CORPUS) - 1))]
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        kind = draw(st.sampled_from(["del_char", "dup", "replace_char", "del_token", "dup_token",
                                     "swap_token"]))
        i = draw(st.integers(0, len(text) - 1))
        if kind == "del_char":
            text = text[:i] + text[i + 1:]
        elif kind == "dup":
            j = min(len(text), i + draw(st.integers(1, 60)))
            text = text[:j] + text[i:j] + text[j:]
        elif kind == "replace_char":
            text = text[:i] + draw(st.sampled_from(_CHARS)) + text[i + 1:]
        else:
            toks = list(_TOKEN.finditer(text))
            if not toks:
                continue
            a = toks[draw(st.integers(0, len(toks) - 1))]
            b = toks[draw(st.integers(0, len(toks) - 1))]
            if kind == "del_token":
                text = text[:a.start()] + text[a.end():]
            elif kind == "dup_token":
                text = text[:a.end()] + " " + a.group(0) + text[a.end():]
            else:
                text = text[:a.start()] + b.group(0) + text[a.end():]
    return text


@FUZZ
@given(edits())
def test_random_edits(text):
    check(text)


@pytest.mark.parametrize("text", BUILTIN)
def test_builtin_corpus_is_valid(text):
    m = parse(text)
    assert m.equals(parse(print_module(m)))
