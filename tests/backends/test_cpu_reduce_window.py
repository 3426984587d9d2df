"""reduce_window on the CPU (element by element in loop kernels) against the interpreter, bit for
bit: the window is walked in the interpreter's order with its per-step rounding."""
from __future__ import annotations

import numpy as np
import pytest

import xltune
from cpu_testlib import assert_bitwise, build_cpu, random_values, reference
from xltune.codegen.reduction import WINDOW_UNROLL
from xltune.ir import dtypes as D
from xltune.ir.types import TensorType


def window_text(shape, dt, op, init, window, strides=None, base=None, wdil=None, padding=None) -> str:
    from xltune.ir.ops._common import window_output_dim
    rank = len(shape)
    strides = strides or [1] * rank
    base = base or [1] * rank
    wdil = wdil or [1] * rank
    padding = padding or [[0, 0]] * rank
    out = tuple(window_output_dim(shape[d], window[d], strides[d], tuple(padding[d]), base[d], wdil[d])
                for d in range(rank))
    t, o, s = TensorType(tuple(shape), dt), TensorType(out, dt), TensorType((), dt)
    pad = ", ".join(f"[{a}, {b}]" for a, b in padding)
    return f"""
func.func @main(%x: {t}) -> {o} {{
  %i = stablehlo.constant dense<{init}> : {s}
  %r = "stablehlo.reduce_window"(%x, %i) ({{
  ^bb0(%a: {s}, %b: {s}):
    %v = stablehlo.{op} %a, %b : {s}
    stablehlo.return %v : {s}
  }}) {{window_dimensions = array<i64: {", ".join(map(str, window))}>,
       window_strides = array<i64: {", ".join(map(str, strides))}>,
       base_dilations = array<i64: {", ".join(map(str, base))}>,
       window_dilations = array<i64: {", ".join(map(str, wdil))}>,
       padding = dense<[{pad}]> : tensor<{rank}x2xi64>}} : ({t}, {s}) -> {o}
  return %r : {o}
}}
"""


CASES = [
    dict(shape=(8, 9), window=[2, 3]),
    dict(shape=(8, 9), window=[3, 3], strides=[2, 2], padding=[[1, 1], [1, 1]]),
    dict(shape=(7, 6), window=[2, 2], base=[2, 1], padding=[[1, 0], [0, 1]]),
    dict(shape=(7, 6), window=[2, 3], wdil=[2, 2]),
    dict(shape=(9, 10), window=[2, 2], padding=[[-1, 0], [0, -2]]),
    dict(shape=(40,), window=[40], padding=[[39, 0]]),             # a cumulative sum (straight-line)
    dict(shape=(3, 100), window=[1, 100], padding=[[0, 0], [99, 0]]),   # a loop over the window
    dict(shape=(2, 3, 4, 5), window=[1, 2, 2, 1], strides=[1, 2, 1, 1]),
    dict(shape=(0, 5), window=[1, 2]),
]


@pytest.mark.parametrize("case", range(len(CASES)), ids=[str(c) for c in CASES])
@pytest.mark.parametrize("dt,op,init", [(D.F32, "add", "0.0"), (D.F16, "add", "0.0"), (D.BF16, "maximum", "0xFF80"),
                                        (D.I32, "add", "0"), (D.UI8, "minimum", "255"), (D.F64, "multiply", "1.0")],
                         ids=["f32add", "f16add", "bf16max", "i32add", "ui8min", "f64mul"])
def test_windows_match_bit_for_bit(case, dt, op, init):
    c = CASES[case]
    text = window_text(c["shape"], dt, op, init, c["window"], c.get("strides"), c.get("base"), c.get("wdil"),
                       c.get("padding"))
    rng = np.random.default_rng(case)
    x = random_values(dt, int(np.prod(c["shape"])), rng).reshape(c["shape"])
    if op == "multiply":
        x = (1 + 0.1 * rng.standard_normal(c["shape"])).astype(dt.np_dtype)
    m = xltune.parse(text)
    exe = build_cpu(m)
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    assert_bitwise(exe(x), reference(m, x)[0], text)


def test_large_windows_loop_instead_of_unrolling():
    # a 40-element window is straight-line code (one add per element), a 100-element one a loop
    small = xltune.compile(window_text((40,), D.F32, "add", "0.0", [40], padding=[[39, 0]]), backend="cpu")
    assert 40 <= WINDOW_UNROLL and small.stages["llvm"].count("fadd") >= 40
    big = xltune.compile(window_text((3, 100), D.F32, "add", "0.0", [1, 100], padding=[[0, 0], [99, 0]]),
                         backend="cpu")
    assert 100 > WINDOW_UNROLL and big.stats["fallback_ops"] == 0 and big.stages["llvm"].count("fadd") < 40


SELECT_AND_GATHER = """
func.func @main(%v: tensor<6x8xf32>, %i: tensor<6x8xi32>) -> (tensor<3x4xf32>, tensor<3x4xi32>) {
  %ninf = stablehlo.constant dense<0xFF800000> : tensor<f32>
  %zero = stablehlo.constant dense<0> : tensor<i32>
  %r:2 = "stablehlo.reduce_window"(%v, %i, %ninf, %zero) ({
  ^bb0(%a: tensor<f32>, %ai: tensor<i32>, %b: tensor<f32>, %bi: tensor<i32>):
    %ge = stablehlo.compare GE, %a, %b : (tensor<f32>, tensor<f32>) -> tensor<i1>
    %m = stablehlo.select %ge, %a, %b : tensor<i1>, tensor<f32>
    %k = stablehlo.select %ge, %ai, %bi : tensor<i1>, tensor<i32>
    stablehlo.return %m, %k : tensor<f32>, tensor<i32>
  }) {window_dimensions = array<i64: 2, 2>, window_strides = array<i64: 2, 2>}
     : (tensor<6x8xf32>, tensor<6x8xi32>, tensor<f32>, tensor<i32>) -> (tensor<3x4xf32>, tensor<3x4xi32>)
  return %r#0, %r#1 : tensor<3x4xf32>, tensor<3x4xi32>
}
"""


def test_several_results_computed_together():
    m = xltune.parse(SELECT_AND_GATHER)
    rng = np.random.default_rng(2)
    v = rng.integers(-2, 3, (6, 8)).astype(np.float32)
    i = np.arange(48, dtype=np.int32).reshape(6, 8)
    exe = build_cpu(m)
    assert exe.stats["fallback_ops"] == 0, exe.stats.get("fallbacks")
    for g, w in zip(exe(v, i), reference(m, v, i)):
        assert_bitwise(g, w)


@pytest.mark.parametrize("knob", ["vector_width", "threads"])
def test_loop_kernel_knobs_apply(knob):
    text = window_text((64, 600), D.F32, "maximum", "0xFF800000", [3, 3], padding=[[1, 1], [1, 1]])
    m = xltune.parse(text)
    x = np.random.default_rng(3).standard_normal((64, 600)).astype(np.float32)
    want = reference(m, x)[0]
    ks = [k for k in xltune.knobs(text, backend="cpu") if k.name.endswith("." + knob)]
    assert ks, knob
    for v in ks[0].choices:
        assert_bitwise(xltune.compile(text, backend="cpu", config={ks[0].name: v})(x), want)
