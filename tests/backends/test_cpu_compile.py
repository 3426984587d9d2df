"""The CPU backend's compile path: what a compile does and what it leaves for later
(assembly when read, the BLAS when called)."""
from __future__ import annotations

import json

import numpy as np
import pytest

import xltune
from xltune.backends import get_backend
from xltune.backends.cpu import blas, objcache
from xltune.backends.cpu.llvm_target import HostTarget

from cpu_testlib import build_cpu
from dot_testlib import dot_module

GELU = """
func.func @main(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %0 = stablehlo.multiply %x, %x : tensor<1000xf32>
  %1 = stablehlo.tanh %0 : tensor<1000xf32>
  %2 = stablehlo.add %1, %x : tensor<1000xf32>
  return %2 : tensor<1000xf32>
}
"""


@pytest.fixture
def assemblies(monkeypatch):
    """Counts HostTarget.assemble calls."""
    calls = []
    real = HostTarget.assemble

    def counting(self, optimized_ir):
        calls.append(1)
        return real(self, optimized_ir)
    monkeypatch.setattr(HostTarget, "assemble", counting)
    return calls


def test_assembly_is_made_when_read_then_cached(cache_dir, assemblies):
    exe = xltune.compile(GELU, backend="cpu")
    assert exe.stats["object_cache"] == "miss"
    assert "asm" in exe.stages and not exe.stages.is_made("asm")
    assert assemblies == [] and not list(cache_dir.glob("*.s"))
    asm = exe.stages["asm"]
    assert "xltune.seg0" in asm and "ret" in asm
    assert assemblies == [1] and len(list(cache_dir.glob("*.s"))) == 1
    # a warm compile reads the stored listing; nothing is assembled again
    warm = xltune.compile(GELU, backend="cpu")
    assert warm.stats["object_cache"] == "hit" and not warm.stages.is_made("asm")
    assert warm.stages["asm"] == asm and assemblies == [1]
    x = np.linspace(-3, 3, 1000, dtype=np.float32)
    np.testing.assert_array_equal(exe(x), warm(x))


def test_assembly_of_an_uncached_compile_and_every_reader(monkeypatch, assemblies):
    monkeypatch.setenv("XLTUNE_OBJECT_CACHE", "0")
    exe = xltune.compile(GELU, backend="cpu")
    assert exe.stats["object_cache"] == "off"
    stages = json.loads(json.dumps(exe.stages))          # what reports and tools do
    assert list(stages) == list(exe.stages) and stages["asm"] == exe.stages["asm"]
    assert "xltune.seg0" in stages["asm"] and assemblies == [1]
    assert str(exe.stages).count("xltune.seg0") >= 2      # repr shows the text, not a placeholder


def test_assembly_matches_the_object_code(cache_dir):
    """The listing comes from the optimized IR the object was made from: same functions, and
    the micro-kernel's fused multiply-adds are there."""
    module = dot_module((64, 64), (64, 64), [], [], [1], [0])
    exe = build_cpu(module, {"cpu.dot.dot": "gemm"})
    asm = exe.stages["asm"]
    assert "vfmadd" in asm
    for fn in ("xltune.seg0", "xltune.entry"):
        assert f"{fn}:" in asm or f'"{fn}":' in asm


def test_blas_is_offered_without_loading_it(monkeypatch):
    if not blas.available():
        pytest.skip(blas.unavailable())
    loads = []
    real = blas._load

    def counting(found):
        loads.append(found)
        return real(found)
    monkeypatch.setattr(blas, "_load", counting)
    monkeypatch.setattr(blas, "_loaded", None)        # as in a fresh process
    module = dot_module((40, 30), (30, 20), [], [], [1], [0])
    dot_knob = [k for k in get_backend("cpu").knobs(module) if k.name.endswith(".dot")]
    assert dot_knob and "blas" in dot_knob[0].choices
    x, y = np.ones((40, 30), np.float32), np.ones((30, 20), np.float32)
    gemm = build_cpu(module, {"cpu.dot.dot": "gemm"})
    np.testing.assert_array_equal(gemm(x, y), np.full((40, 20), 30, np.float32))
    assert loads == []
    called = build_cpu(module, {"cpu.dot.dot": "blas"})
    assert len(loads) == 1 and blas.SGEMM in called.stages["llvm"]
    np.testing.assert_array_equal(called(x, y), np.full((40, 20), 30, np.float32))


def test_blas_that_cannot_load_makes_the_kernel_a_fallback(monkeypatch, tmp_path):
    """A library file that is there but does not load: the kernel still gives the answer."""
    if not blas.available():
        pytest.skip(blas.unavailable())
    monkeypatch.setenv("XLTUNE_CACHE_DIR", str(tmp_path))

    def broken(found):
        raise OSError("cannot open the copy")
    monkeypatch.setattr(blas, "_load", broken)
    monkeypatch.setattr(blas, "_loaded", None)
    monkeypatch.setattr(blas, "_failure", None)
    module = dot_module((40, 30), (30, 20), [], [], [1], [0])
    exe = build_cpu(module, {"cpu.dot.dot": "blas"})
    assert exe.stats["fallback_ops"] == 1 and "cannot open the copy" in exe.stats["fallbacks"][0]
    x, y = np.ones((40, 30), np.float32), np.ones((30, 20), np.float32)
    np.testing.assert_array_equal(exe(x, y), np.full((40, 20), 30, np.float32))
    assert not blas.available()           # and the choice is no longer offered
    assert not any("blas" in k.choices for k in get_backend("cpu").knobs(module) if k.name.endswith(".dot"))


def test_object_cache_entry_without_assembly_is_a_hit(cache_dir):
    a = xltune.compile(GELU, backend="cpu")
    assert a.stats["object_cache"] == "miss"
    assert list(cache_dir.glob("*.o")) and not list(cache_dir.glob("*.s"))
    cache = objcache.object_cache()
    hits = cache.hits
    b = xltune.compile(GELU, backend="cpu")
    assert b.stats["object_cache"] == "hit" and cache.hits == hits + 1


def test_speed_level_is_part_of_the_object_key():
    """Runtime libraries compile their IR passes at O2: their objects never stand in for O3 ones."""
    from xltune.backends.cpu.llvm_target import host
    target = host()
    text = "define void @f() {\n  ret void\n}\n"
    assert target.cache_key(text, 2) != target.cache_key(text)
    assert target.cache_key(text, target.opt_level) == target.cache_key(text)
    compiled = target.compile_ir(text, speed_level=2)
    assert len(compiled.object_images) == 1 and compiled.object_images[0]
    assert "define void @f()" in compiled.optimized_ir and compiled.asm is None
