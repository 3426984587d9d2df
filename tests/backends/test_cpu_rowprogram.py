"""Row fusions on the library engine (xltune/backends/cpu/rowprogram.py): how a fusion reads as
row-library calls, what it refuses, and random row programs with random knobs against the
interpreter."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from cpu_testlib import build_cpu, fuse_all, reference
from test_cpu_row import layernorm_text, softmax_text
from xltune.backends import get_backend
from xltune.backends.cpu import rowprogram
from xltune.backends.cpu.reductions import plan_of


def _comp(text):
    entry = fuse_all(xltune.parse(text), kind="row").entry
    return next(i for i in entry.instructions if i.opcode == "fusion").regions[0]


def _program(text, math="approx"):
    comp = _comp(text)
    return rowprogram.row_program(comp, plan_of(comp), math)


def _ops(prog) -> list[str]:
    return [s.opcode if s not in prog.chained else f"{prog.chained[s].opcode}+{s.opcode}" for s in prog.steps]


def test_softmax_is_three_passes_with_exp_chained_and_the_sum_fused():
    prog = _program(softmax_text((8, 300)))
    assert _ops(prog) == ["reduce", "subtract+exponential", "divide"]
    (exp_step,) = [s for s in prog.steps if s in prog.chained]
    assert prog.fused[exp_step].opcode == "reduce" and exp_step in prog.stored
    assert not prog.blocked and prog.run == 300
    # the divide writes the output row; exp(x - max) is the one row buffer
    assert prog.nslots == 1 and list(prog.dest.values()) == [0]
    kinds = sorted(set(prog.kinds.values()))
    assert kinds == ["splat", "vector", "view"]


def test_with_c_library_math_the_exp_is_its_own_call():
    prog = _program(softmax_text((8, 300)), math="libm")
    assert "subtract" in _ops(prog) and "exponential" in _ops(prog) and not prog.chained


def test_layernorm_reads_gamma_and_beta_as_columns_and_fuses_the_square_sum():
    prog = _program(layernorm_text(8, 300))
    assert list(prog.kinds.values()).count("column") == 2
    (sq,) = [s for s in prog.fused if s.opcode == "multiply"]
    assert sq not in prog.stored and sq not in prog.slot     # its elements are never kept


def test_a_single_pass_row_is_walked_in_blocks():
    text = """
func.func @main(%x: tensor<3x10000xf32>) -> tensor<3xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %sq = stablehlo.multiply %x, %x : tensor<3x10000xf32>
  %s = stablehlo.reduce(%sq init: %z) applies stablehlo.add across dimensions = [1] : (tensor<3x10000xf32>, tensor<f32>) -> tensor<3xf32>
  return %s : tensor<3xf32>
}"""
    prog = _program(text)
    assert prog.blocked and prog.run == rowprogram.BLOCK and prog.nslots == 0


def test_buffers_are_reused_but_never_handed_to_a_step_that_reads_them():
    text = """
func.func @main(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %a = stablehlo.abs %x : tensor<4x64xf32>
  %b = stablehlo.tanh %a : tensor<4x64xf32>
  %c = stablehlo.negate %b : tensor<4x64xf32>
  %d = stablehlo.logistic %c : tensor<4x64xf32>
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%d init: %z) applies stablehlo.add across dimensions = [1] : (tensor<4x64xf32>, tensor<f32>) -> tensor<4xf32>
  %sb = stablehlo.broadcast_in_dim %s, dims = [0] : (tensor<4xf32>) -> tensor<4x64xf32>
  %y = stablehlo.divide %d, %sb : tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}"""
    prog = _program(text)
    assert prog.nslots == 2              # a chain of four needs two buffers in turn
    for s in prog.steps:
        if s in prog.slot:
            assert all(prog.slot.get(o) != prog.slot[s] for o in prog.inputs(s))


@pytest.mark.parametrize("text,why", [
    (softmax_text((8, 300), dt="f16"), "element type f16"),
    (softmax_text((2, 70000)), "row buffers"),
    ("""
func.func @main(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%x init: %z) applies stablehlo.add across dimensions = [1] : (tensor<4x64xf32>, tensor<f32>) -> tensor<4xf32>
  %sb = stablehlo.broadcast_in_dim %s, dims = [0] : (tensor<4xf32>) -> tensor<4x64xf32>
  %p = stablehlo.compare GT, %x, %sb : (tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<4x64xi1>
  %y = stablehlo.select %p, %x, %sb : tensor<4x64xi1>, tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}""", "compare"),
    ("""
func.func @main(%x: tensor<4x64xf32>) -> tensor<64xf32> {
  %z = stablehlo.constant dense<0.0> : tensor<f32>
  %s = stablehlo.reduce(%x init: %z) applies stablehlo.add across dimensions = [0] : (tensor<4x64xf32>, tensor<f32>) -> tensor<64xf32>
  return %s : tensor<64xf32>
}""", "column layout"),
], ids=["f16", "long-rows", "compare", "column"])
def test_what_the_library_refuses_falls_back_to_the_emitted_kernel(text, why):
    comp = _comp(text)
    assert why in rowprogram.why_not(comp, plan_of(comp))
    m = fuse_all(xltune.parse(text), kind="row")
    assert not [k for k in get_backend("cpu").knobs(m) if k.name.endswith(".engine")]


# ---- random row programs ---------------------------------------------------------------------------------
UNARY = ("abs", "negate", "tanh", "logistic", "exponential", "sqrt")
BINARY = ("add", "subtract", "multiply", "maximum", "minimum", "divide")
REDUCES = {"add": "0.0", "maximum": "0xFF800000", "minimum": "0x7F800000"}


@st.composite
def row_programs(draw):
    rows = draw(st.sampled_from([1, 3, 17]))
    n = draw(st.sampled_from([1, 5, 64, 300, 4100, 9000]))
    T, R, C = f"tensor<{rows}x{n}xf32>", f"tensor<{rows}xf32>", f"tensor<{n}xf32>"
    lines = []

    def emit(rhs, ty=T):
        """A new value: `%vK = rhs`, with `: ty` unless rhs carries its own types."""
        name = f"%v{len(lines)}"
        lines.append(f"{name} = {rhs}" + (f" : {ty}" if ty else ""))
        return name

    vectors = ["%x"]
    splats = [emit("stablehlo.constant dense<0.75>")]
    if draw(st.booleans()):
        vectors.append("%y")
    if draw(st.booleans()):
        vectors.append(emit(f"stablehlo.broadcast_in_dim %g, dims = [1] : ({C}) -> {T}", None))
    results = []

    def ops(k):
        for _ in range(k):
            if draw(st.booleans()):
                op = draw(st.sampled_from(UNARY))
                a = draw(st.sampled_from(vectors))
                if op == "exponential":          # bounded arguments: exp(tanh(a))
                    a = emit(f"stablehlo.tanh {a}")
                if op == "sqrt":
                    a = emit(f"stablehlo.abs {a}")
                vectors.append(emit(f"stablehlo.{op} {a}"))
            else:
                op = draw(st.sampled_from(BINARY))
                a = draw(st.sampled_from(vectors))
                b = draw(st.sampled_from(vectors + splats))
                if draw(st.booleans()):
                    a, b = b, a
                if op == "divide":               # denominators away from zero: |b| + 0.75
                    b = emit(f"stablehlo.add {emit(f'stablehlo.abs {b}')}, {splats[0]}")
                vectors.append(emit(f"stablehlo.{op} {a}, {b}"))

    for _ in range(draw(st.integers(1, 2))):
        ops(draw(st.integers(0, 3)))
        rop = draw(st.sampled_from(sorted(REDUCES)))
        src = draw(st.sampled_from(vectors))
        init = emit(f"stablehlo.constant dense<{REDUCES[rop]}>", "tensor<f32>")
        r = emit(f"stablehlo.reduce({src} init: {init}) applies stablehlo.{rop} across dimensions = [1] : "
                 f"({T}, tensor<f32>) -> {R}", None)
        results.append(r)
        if rop == "add":                                 # a mean, as layernorm's
            r = emit(f"stablehlo.multiply {r}, {emit(f'stablehlo.constant dense<{1.0 / n}>', R)}", R)
        splats.append(emit(f"stablehlo.broadcast_in_dim {r}, dims = [0] : ({R}) -> {T}", None))
    ops(draw(st.integers(0, 2)))
    last = emit(f"stablehlo.add {vectors[-1]}, {splats[-1]}")     # a pass after the last reduce
    outs = [last] + (results if draw(st.booleans()) else [])
    types = [T] + [R] * (len(outs) - 1)
    params = [f"%x: {T}", f"%y: {T}", f"%g: {C}"]
    body = "\n  ".join(lines)
    text = f"""func.func @main({", ".join(params)}) -> ({", ".join(types)}) {{
  {body}
  return {", ".join(outs)} : {", ".join(types)}
}}"""
    return text, (rows, n)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prog=row_programs(), data=st.data())
def test_random_row_programs_on_the_library_engine_agree_with_the_interpreter(prog, data):
    text, (rows, n) = prog
    m = fuse_all(xltune.parse(text), kind="row")
    knobs = [k for k in get_backend("cpu").knobs(m) if k.name.startswith("cpu.")]
    engine = [k.name for k in knobs if k.name.endswith(".engine")]
    if not engine:      # rows of one element: a broadcast along them is a splat, reduced as such
        assert n == 1, text
        return
    config = {k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in knobs}
    config[engine[0]] = "library"
    exe = build_cpu(m, config)
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    assert "xltune_rt_row_" in exe.stages["llvm"]
    rng = np.random.default_rng(rows * n)
    args = [rng.standard_normal(s).astype(np.float32) for s in ((rows, n), (rows, n), (n,))]
    got, want = exe(*args), reference(m, *args)
    got = got if isinstance(got, (list, tuple)) else [got]
    for g, w in zip(got, want):
        w = np.asarray(w, np.float64)
        scale = max(1.0, float(np.nanmax(np.abs(w), initial=0.0)))
        np.testing.assert_allclose(np.asarray(g, np.float64), w, rtol=1e-4, atol=1e-4 * scale, err_msg=text)
