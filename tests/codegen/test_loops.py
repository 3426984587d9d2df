"""Loop hints: the knobs' vectorization hints reach LLVM, except on loops that call a function
LLVM cannot vectorize, where forcing them only makes LLVM print warnings."""
import re

import numpy as np
from llvmlite import ir

import xltune
from xltune.codegen.lltypes import I64
from xltune.codegen.loops import for_range, loop_metadata

GELU_LIKE = """
func.func @main(%x: tensor<4096xf32>) -> tensor<4096xf32> {
  %0 = stablehlo.exponential %x : tensor<4096xf32>
  %1 = stablehlo.tanh %0 : tensor<4096xf32>
  return %1 : tensor<4096xf32>
}
"""


def _loop_ir(call_name: str) -> str:
    m = ir.Module()
    f = ir.Function(m, ir.FunctionType(ir.VoidType(), [ir.DoubleType().as_pointer()]), "k")
    callee = ir.Function(m, ir.FunctionType(ir.DoubleType(), [ir.DoubleType()]), call_name)
    b = ir.IRBuilder(f.append_basic_block("entry"))
    md = loop_metadata(m, vector_width=4, interleave=2, unroll=1)
    with for_range(b, 0, 64, metadata=md) as i:
        p = b.gep(f.args[0], [i])
        b.store(b.call(callee, [b.load(p)]), p)
    b.ret_void()
    return str(m)


def _latch_hints(text: str) -> str:
    """The hint strings of the loop id the latch branch carries."""
    ref = re.search(r"!llvm\.loop (!\d+)", text).group(1)
    nodes = dict(re.findall(r"^(!\d+) = (.*)$", text, re.M))
    ops = re.findall(r"!\d+", nodes[ref])
    return " ".join(nodes[o] for o in ops if o != ref)


def test_hints_kept_on_loops_calling_intrinsics():
    hints = _latch_hints(_loop_ir("llvm.sqrt.f64"))
    assert "llvm.loop.vectorize.width" in hints and "llvm.loop.unroll.disable" in hints


def test_vector_hints_dropped_on_loops_calling_libm():
    hints = _latch_hints(_loop_ir("exp"))
    assert "llvm.loop.vectorize" not in hints and "llvm.loop.interleave" not in hints
    assert "llvm.loop.unroll.disable" in hints  # the hints that still apply stay


TRANSPOSE_EXP = """
func.func @main(%x: tensor<4x128x64xf32>) -> tensor<4x64x128xf32> {
  %t = stablehlo.transpose %x, dims = [0, 2, 1] : (tensor<4x128x64xf32>) -> tensor<4x64x128xf32>
  %0 = stablehlo.exponential %t : tensor<4x64x128xf32>
  return %0 : tensor<4x64x128xf32>
}
"""


def _compile_capturing_stderr(text, values, capfd, monkeypatch):
    """Compile (no caches) with the knobs ending in each key of `values` set; (exe, chosen,
    what LLVM printed on the process's stderr)."""
    chosen = {}
    for knob in xltune.knobs(text, "cpu"):
        for suffix, pick in values.items():
            if knob.name.endswith(suffix):
                chosen[knob.name] = pick(knob.choices)
    monkeypatch.setenv("XLTUNE_COMPILE_CACHE", "0")
    monkeypatch.setenv("XLTUNE_OBJECT_CACHE", "0")
    capfd.readouterr()
    exe = xltune.compile(text, backend="cpu", config=xltune.Config(chosen))
    return exe, chosen, capfd.readouterr().err


def test_fitted_hints_clip_to_the_trip_count():
    m = ir.Module()
    short = loop_metadata(m)  # nothing
    assert short is None
    from xltune.codegen.loops import fitted_loop_metadata
    too_short = fitted_loop_metadata(m, 16, 2, trip=16)    # 16 trips can't go 16 wide twice
    assert "vectorize" not in " ".join(str(op) for op in too_short.operands)
    md = fitted_loop_metadata(m, 8, 4, trip=32)                       # 32 / 8 / 2: interleave 2
    text = str(m)
    assert "llvm.loop.interleave.count\", i32 2" in text and md is not None
    assert fitted_loop_metadata(m, 8, 4, trip=None) is not None        # unknown: the knobs as given


def test_wide_hints_on_short_tiles_compile_without_llvm_warnings(capfd, monkeypatch):
    # tiles 16 columns wide: the innermost loop runs at most 16 times, too few for 16 lanes x 2
    exe, chosen, printed = _compile_capturing_stderr(TRANSPOSE_EXP, {
        ".tile": lambda c: 8, ".tile_last": lambda c: 16, ".vector_width": lambda c: 16,
        ".unroll": lambda c: 2}, capfd, monkeypatch)
    assert len(chosen) == 4, chosen
    assert "not vectorized" not in printed, printed
    x = np.random.default_rng(0).standard_normal((4, 128, 64)).astype(np.float32)
    np.testing.assert_allclose(exe(x), np.exp(x.transpose(0, 2, 1)), rtol=1e-5)


def test_libm_math_with_a_vector_width_compiles_without_llvm_warnings(capfd, monkeypatch):
    x = np.linspace(-2, 2, 4096, dtype=np.float32)
    exe, chosen, printed = _compile_capturing_stderr(GELU_LIKE, {".math": lambda c: "libm",
                                                                 ".vector_width": max},
                                                       capfd, monkeypatch)
    assert any(n.endswith(".math") for n in chosen), chosen
    assert "not vectorized" not in printed, printed
    np.testing.assert_allclose(exe(x), np.tanh(np.exp(x)), rtol=1e-5)
