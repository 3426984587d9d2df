"""Loop hints: the knobs' vectorization hints reach LLVM, except on loops that call a function
LLVM cannot vectorize, where forcing them only makes LLVM print warnings."""
import os
import re
import tempfile

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


def test_libm_math_with_a_vector_width_compiles_without_llvm_warnings():
    x = np.linspace(-2, 2, 4096, dtype=np.float32)
    knobs = {k.name: k for k in xltune.knobs(GELU_LIKE, "cpu")}
    values = {}
    for name in knobs:
        if name.endswith(".math"):
            values[name] = "libm"
        elif name.endswith(".vector_width"):
            values[name] = max(c for c in knobs[name].choices)
    assert any(n.endswith(".math") for n in values), sorted(knobs)
    cfg = xltune.Config(values)
    saved = os.dup(2)
    with tempfile.TemporaryFile() as err:
        os.dup2(err.fileno(), 2)
        try:
            os.environ["XLTUNE_COMPILE_CACHE"] = "0"
            exe = xltune.compile(GELU_LIKE, backend="cpu", config=cfg)
        finally:
            os.environ.pop("XLTUNE_COMPILE_CACHE", None)
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        printed = err.read().decode()
    assert "not vectorized" not in printed, printed
    np.testing.assert_allclose(exe(x), np.tanh(np.exp(x)), rtol=1e-5)
