"""The split of a program's LLVM module into kernels (O3) and glue (cheap passes, fast
instruction selection), and the multi-image objects it makes."""
from __future__ import annotations

import llvmlite.binding as llvm
import numpy as np
from llvmlite import ir

import xltune
from xltune.backends.cpu import objcache
from xltune.backends.cpu.llvm_target import PART_MARKER, host
from xltune.backends.cpu.partition import GLUE, KERNELS, _has_loop, split_module

from cpu_testlib import SOFTMAX


def _verify(text: str):
    mod = llvm.parse_assembly(text)
    mod.verify()
    return mod


def _function(module: ir.Module, name: str, loop: bool, back_to_early_exit: bool = False) -> ir.Function:
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), [ir.IntType(64)]), name=name)
    entry = fn.append_basic_block("entry")
    early = fn.append_basic_block("early")        # created before the blocks that branch to it
    b = ir.IRBuilder(entry)
    nxt = fn.append_basic_block("next")
    b.cbranch(b.icmp_signed("<", fn.args[0], ir.Constant(ir.IntType(64), 0)), early, nxt)
    b.position_at_end(early)
    b.ret_void()
    b.position_at_end(nxt)
    if loop:
        head = fn.append_basic_block("head")
        b.branch(head)
        b.position_at_end(head)
        i = b.phi(ir.IntType(64))
        i.add_incoming(ir.Constant(ir.IntType(64), 0), nxt)
        inc = b.add(i, ir.Constant(ir.IntType(64), 1))
        i.add_incoming(inc, head)
        done = fn.append_basic_block("done")
        b.cbranch(b.icmp_signed("<", inc, fn.args[0]), head, done)
        b.position_at_end(done)
    b.ret_void() if not back_to_early_exit else b.branch(early)
    return fn


def test_a_loop_is_a_cycle_not_a_branch_to_an_earlier_block():
    m = ir.Module()
    assert not _has_loop(_function(m, "exit_early", loop=False, back_to_early_exit=True))
    assert _has_loop(_function(m, "counts", loop=True))


def test_kernels_and_glue_parts_each_verify_alone():
    m = ir.Module(name="t")
    kernel = _function(m, "kernel", loop=True)
    kernel.linkage = "internal"
    glue = ir.Function(m, ir.FunctionType(ir.VoidType(), [ir.IntType(64)]), name="entry")
    b = ir.IRBuilder(glue.append_basic_block("entry"))
    b.call(kernel, [glue.args[0]])
    b.ret_void()
    parts = split_module(m)
    assert [p.pipeline for p in parts] == [KERNELS, GLUE]
    k, g = (_verify(p.ir_text) for p in parts)
    # the kernel the glue calls is external in its part and declared (not defined) in the glue
    assert not k.get_function("kernel").is_declaration and k.get_function("kernel").linkage == llvm.Linkage.external
    assert g.get_function("kernel").is_declaration and not g.get_function("entry").is_declaration


def test_a_module_without_loops_is_one_glue_part():
    m = ir.Module(name="t")
    _function(m, "f", loop=False)
    parts = split_module(m)
    assert [p.pipeline for p in parts] == [GLUE]
    _verify(parts[0].ir_text)


def test_an_exported_global_variable_keeps_the_module_whole():
    """Two parts cannot both define it: the split is skipped (one O3 part, as before)."""
    m = ir.Module(name="t")
    gv = ir.GlobalVariable(m, ir.IntType(64), name="shared")
    gv.initializer = ir.Constant(ir.IntType(64), 0)
    _function(m, "kernel", loop=True)
    fn = ir.Function(m, ir.FunctionType(ir.VoidType(), []), name="entry")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    b.store(ir.Constant(ir.IntType(64), 1), gv)
    b.ret_void()
    assert [p.pipeline for p in split_module(m)] == [KERNELS]


def _emitted(text) -> dict:
    """The row fusions as emitted kernels (the library engine makes a program all glue)."""
    return {k.name: "emitted" for k in xltune.knobs(text, backend="cpu") if k.name.endswith(".engine")}


def test_a_program_compiles_to_two_objects_that_link_and_agree_with_the_interpreter(cache_dir):
    exe = xltune.compile(SOFTMAX, backend="cpu", config=_emitted(SOFTMAX))
    llvm_text = exe.stages["llvm"]
    assert f"{PART_MARKER}{KERNELS}" in llvm_text and f"{PART_MARKER}{GLUE}" in llvm_text
    kernels, glue = llvm_text.split(PART_MARKER)[1:]
    # the vectorized row loop is in the kernels part; the entry point and segment in the glue
    assert "<16 x float>" in kernels or "<8 x float>" in kernels
    assert "define" in glue and "@xltune.entry" in glue and "@xltune.seg0" in glue
    asm = exe.stages["asm"]
    assert "xltune part: kernels" in asm and "xltune part: glue" in asm
    x = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32)
    want = xltune.compile(SOFTMAX, backend="interpreter")(x)
    np.testing.assert_allclose(exe(x), want, rtol=2e-6, atol=1e-7)
    # warm: both images come back from one cache file
    warm = xltune.compile(SOFTMAX, backend="cpu", config=_emitted(SOFTMAX))
    assert warm.stats["object_cache"] == "hit" and warm.stages["llvm"] == llvm_text
    np.testing.assert_array_equal(warm(x), exe(x))
    assert len(list(cache_dir.glob("*.o"))) == 1


def test_packed_objects_round_trip_and_a_torn_file_is_a_miss(cache_dir):
    images = (b"\x7fELF one", b"\x7fELF two and more")
    packed = objcache._pack(images)
    assert objcache._unpack(packed) == images
    assert objcache._unpack(b"\x7fELF single") == (b"\x7fELF single",)
    assert objcache._unpack(packed[:-3]) is None
    from xltune.backends.cpu.llvm_target import Compiled
    cache = objcache.ObjectCache()
    cache.put("k", Compiled(object_images=images, optimized_ir="; ir"))
    assert cache.get("k").object_images == images
    path = cache_dir / "k.o"
    path.write_bytes(path.read_bytes()[:-1])
    misses = cache.misses
    assert cache.get("k") is None and cache.misses == misses + 1


def test_program_key_depends_on_each_parts_pipeline():
    from xltune.backends.cpu.partition import Part
    target = host()
    a = [Part("x", KERNELS), Part("y", GLUE)]
    b = [Part("x", GLUE), Part("y", GLUE)]
    assert target.program_key(a) != target.program_key(b)
    assert target.program_key(a) == target.program_key(list(a))


def test_a_loop_its_emitter_marks_as_glue_stays_out_of_the_kernels_part():
    from xltune.codegen.context import CodegenContext
    m = ir.Module(name="t")
    cx = CodegenContext(m)
    driver = _function(m, "driver", loop=True)      # e.g. a batch loop around a library call
    cx.mark_glue(driver)
    kernel = _function(m, "kernel", loop=True)
    kernel.linkage = "internal"
    entry = ir.Function(m, ir.FunctionType(ir.VoidType(), [ir.IntType(64)]), name="entry")
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    b.call(driver, [entry.args[0]])
    b.call(kernel, [entry.args[0]])
    b.ret_void()
    kernels, glue = split_module(m)
    k, g = _verify(kernels.ir_text), _verify(glue.ir_text)
    assert not k.get_function("kernel").is_declaration
    assert "driver" not in {f.name for f in k.functions}
    assert not g.get_function("driver").is_declaration


def test_a_batched_dot_through_the_gemm_routine_needs_no_kernels_part(cache_dir):
    text = """
func.func @main(%a: tensor<4x32x16xf32>, %b: tensor<4x16x24xf32>) -> tensor<4x32x24xf32> {
  %0 = stablehlo.dot_general %a, %b, batching_dims = [0] x [0], contracting_dims = [2] x [1] : (tensor<4x32x16xf32>, tensor<4x16x24xf32>) -> tensor<4x32x24xf32>
  return %0 : tensor<4x32x24xf32>
}
"""
    assert "cpu.fusion.0.dot" in {k.name for k in xltune.knobs(text, "cpu")}
    exe = xltune.compile(text, backend="cpu", config=xltune.Config({"cpu.fusion.0.dot": "runtime"}))
    assert f"{PART_MARKER}{KERNELS}" not in exe.stages["llvm"]
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 32, 16)).astype(np.float32)
    bm = rng.standard_normal((4, 16, 24)).astype(np.float32)
    np.testing.assert_allclose(exe(a, bm), np.matmul(a, bm), rtol=1e-5, atol=1e-5)


def test_a_library_row_fusion_is_all_glue_and_calls_the_row_library(cache_dir):
    exe = xltune.compile(SOFTMAX, backend="cpu")
    llvm_text = exe.stages["llvm"]
    assert f"{PART_MARKER}{GLUE}" in llvm_text and f"{PART_MARKER}{KERNELS}" not in llvm_text
    assert "@xltune_rt_row_f32_subtract_vs_then_exponential_add_red(" in llvm_text
    assert "@xltune_rt_row_f32_maximum_red(" in llvm_text
    x = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32)
    want = xltune.compile(SOFTMAX, backend="interpreter")(x)
    np.testing.assert_allclose(exe(x), want, rtol=2e-6, atol=1e-7)
