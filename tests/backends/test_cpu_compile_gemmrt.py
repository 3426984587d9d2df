"""The GEMM runtime (xltune/backends/cpu/gemmrt.py): the routine itself against numpy, the same
bits as the emitted GEMM, and dot kernels that call it instead of carrying a GEMM."""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

import xltune
from cpu_testlib import build_cpu
from dot_testlib import dot_module
from xltune.backends import get_backend
from xltune.backends.cpu import dot, gemmrt
from xltune.backends.cpu.llvm_target import HostTarget

_I, _P = ctypes.c_int64, ctypes.c_void_p
_CALL = ctypes.CFUNCTYPE(None, _P, _I, _I, _P, _I, _I, _P, _I, _I, _I, _I, _I, _I, _I, _P)


def _routine(dtype, micro):
    return _CALL(gemmrt.address(dtype, micro))


def _aligned(n, dtype):
    raw = np.zeros(n + 64, dtype)
    off = (-raw.ctypes.data) % 64 // raw.itemsize
    return raw[off:off + n]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("micro", ["6x4", "4x1"])
def test_routine_matches_numpy_on_any_layout(dtype, micro):
    np_dt = np.float32 if dtype == "f32" else np.float64
    rows, vecs = map(int, micro.split("x"))
    nr = vecs * gemmrt.lanes_of(dtype)
    f = _routine(dtype, micro)
    rng = np.random.default_rng(0)
    for M, N, K in [(1, 1, 1), (5, 7, 3), (40, 130, 77), (97, 65, 300), (13, 200, 1100)]:
        for ta in (False, True):
            for tb in (False, True):
                for mc, kc, nc, packed in [(96, 1024, 4096, True), (rows, 64, nr, True), (96, 1024, 4096, False)]:
                    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np_dt)
                    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np_dt)
                    c = np.full((M, N), np.nan, np_dt)
                    a_rs, a_ks = (1, M) if ta else (K, 1)
                    b_ks, b_ns = (1, K) if tb else (N, 1)
                    mc_, nc_ = -(-mc // rows) * rows, -(-nc // nr) * nr
                    bp = _aligned(kc * nc_, np_dt)
                    f(a.ctypes.data, a_rs, a_ks, b.ctypes.data, b_ks, b_ns, c.ctypes.data, N, M, N, K,
                      mc_, kc, nc_, bp.ctypes.data if packed else 0)
                    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
                    bound = 2 * K * np.finfo(np_dt).eps * (np.abs(a).max() * np.abs(b).max() * K + 1)
                    np.testing.assert_allclose(c, want, rtol=0, atol=bound,
                                               err_msg=f"{M}x{N}x{K} ta={ta} tb={tb} blocks={mc, kc, nc} packed={packed}")


CASES = [((37, 300), (300, 45), [], [], [1], [0]),          # several k blocks with kc=64
         ((3, 37, 300), (3, 300, 45), [0], [0], [2], [1]),  # a batch
         ((50, 33), (21, 50), [], [], [0], [1]),            # A^T B^T
         ((7, 4, 19), (19, 4, 5), [1], [1], [2], [0])]      # batch dim in the middle


@pytest.mark.parametrize("case", CASES, ids=["k-blocks", "batch", "transposed", "mid-batch"])
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_runtime_gives_the_emitted_gemms_bits(case, dtype, monkeypatch):
    monkeypatch.setattr(dot, "THREADS_KNOB_MIN_FLOPS", 0)
    module = dot_module(*case, lhs_dt=dtype)
    rng = np.random.default_rng(1)
    np_dt = np.float32 if dtype == "f32" else np.float64
    args = [rng.standard_normal(s).astype(np_dt) for s in case[:2]]
    for extra in ({}, {"cpu.dot.kc": 64, "cpu.dot.mc": 24}, {"cpu.dot.micro": "4x1"},
                  {"cpu.dot.threads": 2, "cpu.dot.split": "n"}, {"cpu.dot.threads": 2, "cpu.dot.split": "m"},
                  {"cpu.dot.threads": 2, "cpu.dot.split": "batch"}):
        emitted = build_cpu(module, {"cpu.dot.dot": "gemm", "cpu.dot.pack_a": False, **extra})
        called = build_cpu(module, {"cpu.dot.dot": "runtime", **extra})
        assert gemmrt.PREFIX in called.stages["llvm"] and "llvm.fma" not in called.stages["llvm"]
        np.testing.assert_array_equal(called(*args), emitted(*args), err_msg=str(extra))


def test_runtime_is_the_default_where_it_applies():
    knob = {k.name: k for k in get_backend("cpu").knobs(dot_module((64, 64), (64, 64), [], [], [1], [0]))}
    assert knob["cpu.dot.dot"].default == "runtime" and "gemm" in knob["cpu.dot.dot"].choices
    # a fused epilogue, narrow types, convolutions: the emitted GEMM
    for m in (dot_module((8, 8), (8, 8), [], [], [1], [0], "f16"),
              dot_module((8, 8), (8, 8), [], [], [1], [0], "i8", "i8", "i32")):
        ks = [k for k in get_backend("cpu").knobs(m) if k.name.endswith(".dot")]
        assert not ks or "runtime" not in ks[0].choices
    exe = xltune.compile("""
func.func @main(%a: tensor<64x64xf32>, %b: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = stablehlo.dot_general %a, %b, contracting_dims = [1] x [0] : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  %1 = stablehlo.tanh %0 : tensor<64x64xf32>
  return %1 : tensor<64x64xf32>
}""", backend="cpu", config={"fusion.dot_epilogue": True})
    assert gemmrt.PREFIX not in exe.stages["llvm"] and "llvm.fma" in exe.stages["llvm"]


def test_kernel_calls_the_runtime_after_a_warm_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    module = dot_module((40, 30), (30, 20), [], [], [1], [0])
    a, b = np.ones((40, 30), np.float32), np.ones((30, 20), np.float32)
    cold = build_cpu(module, {"cpu.dot.dot": "runtime"})
    warm = build_cpu(module, {"cpu.dot.dot": "runtime"})
    assert cold.stats["object_cache"] == "miss" and warm.stats["object_cache"] == "hit"
    np.testing.assert_array_equal(warm(a, b), np.full((40, 20), 30, np.float32))


def test_routine_is_compiled_once_per_host(tmp_path, monkeypatch):
    """A new process takes the routine's object from the object cache."""
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(gemmrt, "_loaded", {})
    compiles = []
    real = HostTarget.compile_ir

    def counting(self, text, *a, **k):
        compiles.append(gemmrt.PREFIX in text)
        return real(self, text, *a, **k)
    monkeypatch.setattr(HostTarget, "compile_ir", counting)
    assert gemmrt.address("f64", "4x1")
    assert compiles == [True] and len(list((tmp_path / "objects").glob("*.o"))) == 1
    monkeypatch.setattr(gemmrt, "_loaded", {})        # what a new process has
    assert gemmrt.address("f64", "4x1") and compiles == [True]


def test_imports_name_only_the_routines_a_module_calls():
    text = f'declare void @"{gemmrt.name("f32", "6x4")}"(ptr)\ncall void @"{gemmrt.name("f32", "6x4")}"'
    got = gemmrt.imports_for(text)
    assert list(got) == [gemmrt.name("f32", "6x4")] and got[gemmrt.name("f32", "6x4")]
    assert gemmrt.imports_for("define void @k0()") == {}
