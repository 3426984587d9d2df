"""The CPU backend as a whole: object cache, stages, knobs, argument checks, strided inputs,
interpreter fallbacks, the full pipeline."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xltune
from cpu_testlib import assert_bitwise, build_cpu, fuse_all, module_of, reference, tensor
from xltune.backends import get_backend
from xltune.backends.cpu import objcache
from xltune.errors import ArgumentError
from xltune.ir import dtypes as D

GELU = """
func.func @main(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %c = stablehlo.constant dense<0.5> : tensor<1000xf32>
  %k = stablehlo.constant dense<0.797884583> : tensor<1000xf32>
  %a = stablehlo.constant dense<0.044715> : tensor<1000xf32>
  %one = stablehlo.constant dense<1.0> : tensor<1000xf32>
  %x2 = stablehlo.multiply %x, %x : tensor<1000xf32>
  %x3 = stablehlo.multiply %x2, %x : tensor<1000xf32>
  %t0 = stablehlo.multiply %a, %x3 : tensor<1000xf32>
  %t1 = stablehlo.add %x, %t0 : tensor<1000xf32>
  %t2 = stablehlo.multiply %k, %t1 : tensor<1000xf32>
  %t3 = stablehlo.tanh %t2 : tensor<1000xf32>
  %t4 = stablehlo.add %one, %t3 : tensor<1000xf32>
  %t5 = stablehlo.multiply %c, %x : tensor<1000xf32>
  %r = stablehlo.multiply %t5, %t4 : tensor<1000xf32>
  return %r : tensor<1000xf32>
}
"""

TRANSPOSE_ADD = """
func.func @main(%a: tensor<40x24xf32>, %b: tensor<24x40xf32>) -> (tensor<24x40xf32>, tensor<24x40xf32>) {
  %t = stablehlo.transpose %a, dims = [1, 0] : (tensor<40x24xf32>) -> tensor<24x40xf32>
  %s = stablehlo.add %t, %b : tensor<24x40xf32>
  %e = stablehlo.exponential %s : tensor<24x40xf32>
  return %s, %e : tensor<24x40xf32>, tensor<24x40xf32>
}
"""

SORTED = """
func.func @main(%x: tensor<16xf32>) -> tensor<16xf32> {
  %n = stablehlo.negate %x : tensor<16xf32>
  %s = "stablehlo.sort"(%n) ({
  ^bb0(%p: tensor<f32>, %q: tensor<f32>):
    %lt = stablehlo.compare LT, %p, %q : (tensor<f32>, tensor<f32>) -> tensor<i1>
    stablehlo.return %lt : tensor<i1>
  }) {dimension = 0 : i64, is_stable = true} : (tensor<16xf32>) -> tensor<16xf32>
  %r = stablehlo.multiply %s, %s : tensor<16xf32>
  return %r : tensor<16xf32>
}
"""


def _x(n=1000, seed=0):
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def test_full_pipeline_gelu_is_one_kernel_with_stages():
    exe = xltune.compile(GELU, backend="cpu")
    x = _x()
    np.testing.assert_allclose(exe(x), reference(xltune.parse(GELU), x)[0], rtol=2e-6, atol=1e-6)
    assert exe.stats["kernels"] == 1 and exe.stats["fallback_ops"] == 0
    for stage in ("schedule", "llvm", "asm"):
        assert exe.stages[stage], stage
    # the optimized IR is vectorized and calls no libm function in the loop
    assert "<16 x float>" in exe.stages["llvm"] or "<8 x float>" in exe.stages["llvm"]
    assert "@tanhf" not in exe.stages["llvm"]


def test_object_cache_second_compile_hits(tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    cache = objcache.object_cache()
    hits0, stores0 = cache.hits, cache.stores
    a = xltune.compile(GELU, backend="cpu")
    assert a.stats["object_cache"] == "miss" and cache.stores == stores0 + 1
    assert list((tmp_path / "objects").glob("*.o"))
    b = xltune.compile(GELU, backend="cpu")
    assert b.stats["object_cache"] == "hit" and cache.hits == hits0 + 1
    assert b.stages["llvm"] == a.stages["llvm"] and b.stages["asm"] == a.stages["asm"]
    x = _x()
    assert_bitwise(a(x), b(x))
    # another Config is another program: a miss
    c = xltune.compile(GELU, backend="cpu", config={k.name: 1 for k in xltune.knobs(GELU) if
                                                     k.name.endswith("vector_width")})
    assert c.stats["object_cache"] == "miss"


def test_object_cache_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("XLTUNE_OBJECT_CACHE", "0")
    xltune.compile(GELU, backend="cpu")
    exe = xltune.compile(GELU, backend="cpu")
    assert exe.stats["object_cache"] == "off"
    assert not (tmp_path / "objects").exists() or not list((tmp_path / "objects").glob("*.o"))


def test_fingerprint_names_the_cpu():
    fp = get_backend("cpu").fingerprint()
    assert fp.startswith("cpu:") and len(fp) > 10


def test_bad_arguments_raise_argument_error():
    exe = xltune.compile(TRANSPOSE_ADD, backend="cpu")
    a, b = np.ones((40, 24), np.float32), np.ones((24, 40), np.float32)
    assert len(exe(a, b)) == 2
    with pytest.raises(ArgumentError, match="expected 2 argument"):
        exe(a)
    with pytest.raises(ArgumentError, match="shape"):
        exe(a, np.ones((40, 24), np.float32))
    with pytest.raises(ArgumentError, match="dtype"):
        exe(a, np.ones((24, 40), np.float64))
    with pytest.raises(ArgumentError):
        exe(a, "not an array")


def test_strided_and_readonly_inputs_are_handled():
    exe = xltune.compile(TRANSPOSE_ADD, backend="cpu")
    rng = np.random.default_rng(0)
    big = rng.standard_normal((80, 48)).astype(np.float32)
    a = big[::2, ::2]                       # not contiguous: copied, and the copy is counted
    b = np.asfortranarray(rng.standard_normal((24, 40)).astype(np.float32))
    b.flags.writeable = False
    want = reference(xltune.parse(TRANSPOSE_ADD), np.ascontiguousarray(a), np.ascontiguousarray(b))
    got = exe(a, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=2e-6)
    assert exe.stats["input_copies"] >= 1
    assert "not C-contiguous" in exe.stats["input_copy_reason"]


def test_outputs_are_fresh_arrays_per_call():
    exe = xltune.compile(GELU, backend="cpu")
    x = _x()
    r1 = exe(x)
    r2 = exe(x)
    assert r1 is not r2 and not np.shares_memory(r1, r2)
    assert_bitwise(r1, r2)


def test_fallback_ops_run_through_the_interpreter():
    exe = xltune.compile(SORTED, backend="cpu")
    x = _x(16)
    assert exe.stats["fallback_ops"] == 1, exe.stages["schedule"]
    assert "fallback" in exe.stages["schedule"] and "sort" in exe.stages["schedule"]
    assert_bitwise(exe(x), reference(xltune.parse(SORTED), x)[0])


def test_program_returning_parameters_constants_and_duplicates():
    text = """
    func.func @main(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<2xi32>, tensor<4xf32>) {
      %c = stablehlo.constant dense<[1, 2]> : tensor<2xi32>
      %n = stablehlo.negate %x : tensor<4xf32>
      return %x, %n, %c, %n : tensor<4xf32>, tensor<4xf32>, tensor<2xi32>, tensor<4xf32>
    }"""
    exe = xltune.compile(text, backend="cpu")
    x = _x(4)
    got = exe(x)
    want = reference(xltune.parse(text), x)
    for g, w in zip(got, want):
        assert_bitwise(g, w)
    assert not np.shares_memory(got[0], x)
    assert not np.shares_memory(got[1], got[3])


def test_interpreter_backend_agrees_on_workload_shapes():
    exe = xltune.compile(TRANSPOSE_ADD, backend="cpu")
    ref = xltune.compile(TRANSPOSE_ADD, backend="interpreter")
    a, b = _x(40 * 24).reshape(40, 24), _x(24 * 40, 1).reshape(24, 40)
    for g, w in zip(exe(a, b), ref(a, b)):
        np.testing.assert_allclose(g, w, rtol=4e-6)


# ---- every value of every knob --------------------------------------------------------------------------------
def _knob_programs():
    yield "gelu", GELU
    yield "transpose_add", TRANSPOSE_ADD
    yield "big_multi", BIG_MULTI          # threads, staging and three output groups


@pytest.mark.parametrize("name", ["gelu", "transpose_add", "big_multi"])
def test_each_knob_value_alone(name):
    text = dict(_knob_programs())[name]
    m = xltune.parse(text)
    args = [_x(int(np.prod(p.type.shape)), i).reshape(p.type.shape) for i, p in enumerate(m.entry.params)]
    want = reference(m, *args)
    ks = [k for k in xltune.knobs(text, backend="cpu") if k.name.startswith("cpu.")]
    assert ks
    for k in ks:
        for v in k.choices:
            exe = xltune.compile(text, backend="cpu", config={k.name: v})
            got = exe(*args)
            got = got if isinstance(got, tuple) else (got,)
            for g, w in zip(got, want):
                np.testing.assert_allclose(g, w, rtol=4e-6, atol=1e-6, err_msg=f"{k.name}={v}")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_configs_give_the_interpreters_answer(data):
    name, text = data.draw(st.sampled_from(list(_knob_programs())))
    ks = xltune.knobs(text, backend="cpu")
    config = {k.name: data.draw(st.sampled_from(k.choices), label=k.name) for k in ks}
    m = xltune.parse(text)
    args = [_x(int(np.prod(p.type.shape)), i).reshape(p.type.shape) for i, p in enumerate(m.entry.params)]
    exe = xltune.compile(text, backend="cpu", config=config)
    got = exe(*args)
    got = got if isinstance(got, tuple) else (got,)
    for g, w in zip(got, reference(m, *args)):
        np.testing.assert_allclose(g, w, rtol=4e-6, atol=1e-6)


def test_kernel_knob_names_follow_the_kernel():
    ks = xltune.knobs(GELU, backend="cpu")
    cpu = [k for k in ks if k.name.startswith("cpu.")]
    names = {k.name.rsplit(".", 1)[1] for k in cpu}
    assert {"vector_width", "unroll", "math"} <= names
    for k in cpu:
        assert k.default in k.choices and k.doc


def test_vector_width_hint_reaches_llvm():
    m = fuse_all(xltune.parse(GELU))
    exe = build_cpu(m, {"cpu.fusion.all.vector_width": 4, "cpu.fusion.all.unroll": 1})
    assert "<4 x float>" in exe.stages["llvm"] and "<16 x float>" not in exe.stages["llvm"]
    scalar = build_cpu(m, {"cpu.fusion.all.vector_width": 1, "cpu.fusion.all.math": "libm"})
    assert "x float>" not in scalar.stages["llvm"]
    x = _x()
    np.testing.assert_allclose(scalar(x), exe(x), rtol=4e-6, atol=1e-6)


WHILE_CAPTURE = """
func.func @main(%x: tensor<4xf32>, %n: tensor<i32>) -> (tensor<4xf32>, tensor<i32>) {
  %k = stablehlo.exponential %x : tensor<4xf32>
  %c0 = stablehlo.constant dense<0> : tensor<i32>
  %r:2 = stablehlo.while(%it = %c0, %acc = %x) : tensor<i32>, tensor<4xf32>
   cond {
    %lt = stablehlo.compare LT, %it, %n : (tensor<i32>, tensor<i32>) -> tensor<i1>
    stablehlo.return %lt : tensor<i1>
  } do {
    %one = stablehlo.constant dense<1> : tensor<i32>
    %i2 = stablehlo.add %it, %one : tensor<i32>
    %a2 = stablehlo.add %acc, %k : tensor<4xf32>
    stablehlo.return %i2, %a2 : tensor<i32>, tensor<4xf32>
  }
  %o = stablehlo.multiply %r#1, %r#1 : tensor<4xf32>
  return %o, %r#0 : tensor<4xf32>, tensor<i32>
}"""


def test_fallback_between_native_segments_reads_captured_values():
    exe = xltune.compile(WHILE_CAPTURE, backend="cpu")
    assert exe.stats["fallback_ops"] == 1 and exe.stages["schedule"].count("native segment") == 2
    x, n = np.arange(4, dtype=np.float32), np.array(3, np.int32)
    want = reference(xltune.parse(WHILE_CAPTURE), x, n)
    for _ in range(2):            # the arena is reused between calls
        got = exe(x, n)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
        assert_bitwise(got[1], want[1])


def test_a_kernel_that_fails_to_emit_runs_in_the_interpreter(monkeypatch):
    from xltune.codegen import scalar
    from xltune.codegen.lltypes import NotLowerable

    def refuse(s, inst, args):
        raise NotLowerable("refused for the test")
    monkeypatch.setitem(scalar.LOWERINGS, "negate", scalar.Lowering(refuse))
    m = module_of(lambda c, ps: c.add("exponential", [c.add("negate", ps)]), [tensor((5,), D.F32)])
    exe = build_cpu(m)
    assert exe.stats["fallback_ops"] == 1 and "refused for the test" in exe.stages["schedule"]
    x = _x(5)
    np.testing.assert_allclose(exe(x), reference(m, x)[0], rtol=1e-6)


def test_long_fused_chains_do_not_hit_the_recursion_limit():
    def f(c, ps):
        x = ps[0]
        for i in range(1500):
            x = c.add("add" if i % 2 else "multiply", [x, ps[0]])
        return x
    m = fuse_all(module_of(f, [tensor((8,), D.F32)]))
    x = np.full(8, 0.999, np.float32)
    np.testing.assert_allclose(build_cpu(m)(x), reference(m, x)[0], rtol=1e-5)


BIG_MULTI = """
func.func @main(%a: tensor<256x160xf32>, %b: tensor<160x256xf32>, %s: tensor<f32>)
    -> (tensor<160x256xf32>, tensor<256x160xf32>, tensor<f32>) {
  %t = stablehlo.transpose %a, dims = [1, 0] : (tensor<256x160xf32>) -> tensor<160x256xf32>
  %x = stablehlo.add %t, %b : tensor<160x256xf32>
  %e = stablehlo.exponential %a : tensor<256x160xf32>
  %n = stablehlo.negate %s : tensor<f32>
  return %x, %e, %n : tensor<160x256xf32>, tensor<256x160xf32>, tensor<f32>
}"""


@pytest.mark.parametrize("tile", [0, 16, 64])
def test_threads_split_every_kind_of_output_group(tile):
    m = fuse_all(xltune.parse(BIG_MULTI))
    rng = np.random.default_rng(0)
    args = [rng.standard_normal((256, 160)).astype(np.float32),
            rng.standard_normal((160, 256)).astype(np.float32), np.array(1.5, np.float32)]
    want = reference(m, *args)
    knobs = {k.name.rsplit(".", 1)[1]: k for k in get_backend("cpu").knobs(m)}
    assert "threads" in knobs and "tile" in knobs
    single = build_cpu(m, {knobs["threads"].name: 1, knobs["tile"].name: tile})(*args)
    for threads in knobs["threads"].choices:
        exe = build_cpu(m, {knobs["threads"].name: threads, knobs["tile"].name: tile})
        if threads > 1:
            assert "xltune_rt_parallel_for" in exe.stages["llvm"]   # threads.emit_threaded
        got = exe(*args)
        for g, s, w in zip(got, single, want):
            assert_bitwise(g, s, f"threads={threads}")
            np.testing.assert_allclose(g, w, rtol=4e-6)


def test_small_kernels_have_no_threads_knob():
    assert not [k for k in xltune.knobs(GELU, backend="cpu") if k.name.endswith(".threads")]
