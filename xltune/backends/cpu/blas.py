"""The BLAS behind the `blas` choice of a dot kernel: which library, its function addresses, and
the IR declarations generated code calls them through.

The library is the OpenBLAS that numpy ships (numpy.libs/libscipy_openblas64_*.so, ILP64 CBLAS
symbols such as `scipy_cblas_sgemm64_`), else the one scipy ships (LP64). We load a *private
instance*: a copy of the file under the cache directory, opened RTLD_LOCAL. Its thread count and its
core choice are then ours: it has no worker threads (kernels call it single-threaded on chunks
they share out themselves), and OpenBLAS picks its kernels once, when the library is loaded
(OPENBLAS_CORETYPE). This machine's environment sets OPENBLAS_CORETYPE=Haswell, so numpy's
instance runs 1024^2 f32 in ~9 ms where the SkylakeX kernels (what OpenBLAS detects on this AVX-512
CPU by itself) take ~5 ms. The private instance takes its core from XLTUNE_BLAS_CORETYPE, else
from the CPU's features (SkylakeX with AVX-512, else OpenBLAS's own detection); numpy's own
instance (loaded and initialized by `import numpy`) is left as it is. Where the copy cannot be
made, numpy's instance is used directly (with numpy's threads and core).

Generated code calls `xltune.blas.{sgemm,dgemm}`; `imports_for(ir_text)` gives
the addresses the JIT binds those names to when an object is loaded (cached objects included).

Loading costs: finding the file is a directory listing; the private copy (25 MB) and dlopen
took ~17 ms of a cold compile. Offering the `blas` knob choice needs only the file
(`available()`); the library is copied and loaded (`library()`) when a kernel that calls it is
emitted or loaded.
"""
from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field

from llvmlite import ir

from ...codegen import lltypes as T

SGEMM = "xltune.blas.sgemm"
DGEMM = "xltune.blas.dgemm"
PREFIX = "xltune.blas."

# CBLAS constants
ROW_MAJOR = 101
NO_TRANS = 111
TRANS = 112


@dataclass
class BlasLibrary:
    path: str                   # the file loaded (the private copy when there is one)
    source: str                 # the file it was copied from
    corename: str               # the kernels OpenBLAS chose ("SkylakeX", "Haswell", ...)
    int_bits: int               # 64 for ILP64 symbols, 32 for LP64
    addresses: dict[str, int] = field(default_factory=dict)
    handle: object = None       # keeps the library loaded

    @property
    def int_type(self) -> ir.IntType:
        return ir.IntType(self.int_bits)


# (glob under site-packages, symbol suffix, int bits)
_CANDIDATES = [
    ("numpy.libs/libscipy_openblas64_*.so", "64_", 64),
    ("scipy.libs/libscipy_openblas-*.so", "", 32),
]
_lock = threading.Lock()
_found: tuple[str, str, int] | None = None    # (file, symbol suffix, int bits)
_loaded: BlasLibrary | None = None
_failure: str | None = None


def _located() -> tuple[str, str, int] | None:
    """The library file (found once per process) or None, with `_failure` saying why."""
    global _found, _failure
    if _found is None and _failure is None:
        if os.environ.get("XLTUNE_BLAS", "1") == "0":
            _failure = "XLTUNE_BLAS=0"
        else:
            try:
                _found = _find()
            except Exception as e:           # no numpy/scipy OpenBLAS here
                _failure = f"no usable BLAS: {e}"
    return _found


def library() -> BlasLibrary | None:
    """The process's BLAS, copied and loaded on first use, or None when there is none (see
    `unavailable()`)."""
    global _loaded, _failure
    with _lock:
        found = _located()
        if _loaded is None and found is not None and _failure is None:
            try:
                _loaded = _load(found)
            except Exception as e:           # no symbol, a copy we cannot open...
                _failure = f"no usable BLAS: {e}"
        return _loaded


def unavailable() -> str | None:
    """Why there is no BLAS (None when there is one, or one that was not loaded yet)."""
    with _lock:
        _located()
        return _failure


def available() -> bool:
    """Whether kernels may call the BLAS: the library file is there (it is not loaded: offering
    the choice must not cost a cold compile the copy and dlopen) and no load of it failed."""
    with _lock:
        return _located() is not None and _failure is None


def imports_for(ir_text: str) -> dict[str, int]:
    """Addresses for the BLAS names an IR module calls (empty when it calls none)."""
    if PREFIX not in ir_text:
        return {}
    lib = library()
    if lib is None:
        return {}
    return {name: addr for name, addr in lib.addresses.items() if f'@"{name}"' in ir_text}


def _site_dirs():
    """Where numpy is installed, then where scipy is (imported only if numpy's has no BLAS:
    importing scipy costs ~8 ms)."""
    import numpy
    first = os.path.dirname(os.path.dirname(numpy.__file__))
    yield first
    try:
        import scipy
    except ImportError:
        return
    d = os.path.dirname(os.path.dirname(scipy.__file__))
    if d != first:
        yield d


def _find() -> tuple[str, str, int]:
    for site in _site_dirs():
        for pattern, suffix, bits in _CANDIDATES:
            hits = sorted(glob.glob(os.path.join(site, pattern)))
            if hits:
                return hits[0], suffix, bits
    raise FileNotFoundError("neither numpy nor scipy ships an OpenBLAS here")


def _private_copy(src: str) -> str | None:
    """A copy of src under the cache dir (made once, atomically); None when it cannot be made."""
    from ...paths import cache_dir
    try:
        st = os.stat(src)
        tag = hashlib.sha256(f"{src}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
        d = cache_dir() / "blas"
        d.mkdir(parents=True, exist_ok=True)
        dst = d / f"{tag}-{os.path.basename(src)}"
        if not dst.exists() or dst.stat().st_size != st.st_size:
            fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.chmod(tmp, 0o755)
            os.replace(tmp, dst)
        return str(dst)
    except OSError:
        return None


def _host_core() -> str | None:
    """The OpenBLAS core type for this CPU when it has AVX-512 (OpenBLAS builds that do not know
    the CPU fall back to an AVX2 core); None: let OpenBLAS decide."""
    from .llvm_target import host
    feats = set(host().features.split(","))
    if {"+avx512f", "+avx512bw", "+avx512dq", "+avx512vl"} <= feats:
        return "SKYLAKEX"
    return None


def _load(found: tuple[str, str, int]) -> BlasLibrary:
    src, suffix, bits = found
    path = _private_copy(src)
    env = {}
    if path is not None:
        # the private instance's own choice: XLTUNE_BLAS_CORETYPE, else what the CPU's features
        # allow (an inherited OPENBLAS_CORETYPE is meant for numpy's instance)
        env["OPENBLAS_CORETYPE"] = os.environ.get("XLTUNE_BLAS_CORETYPE") or _host_core()  # None: detect
        # no worker threads: kernels call it single-threaded on their own chunks (OpenBLAS's
        # workers spin ~70 ms after each call, taking a core from the kernels that run next,
        # and wait for each other a scheduler time slice at a time on a busy machine)
        env["OPENBLAS_NUM_THREADS"] = "1"
    if path is None:
        path = src
    saved = {k: os.environ.get(k) for k in env}
    for k, v in env.items():    # read by the library's constructor while dlopen runs it
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        handle = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def sym(name):
        return ctypes.cast(getattr(handle, f"scipy_{name}{suffix}"), ctypes.c_void_p).value

    addresses = {SGEMM: sym("cblas_sgemm"), DGEMM: sym("cblas_dgemm")}
    core = getattr(handle, f"scipy_openblas_get_corename{suffix}")
    core.restype = ctypes.c_char_p
    return BlasLibrary(path, src, core().decode(), bits, addresses, handle)


# ---- IR ---------------------------------------------------------------------------------------------
def declare_gemm(module: ir.Module, lib: BlasLibrary, dtype: str) -> ir.Function:
    """cblas_?gemm(order, transa, transb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)."""
    name = SGEMM if dtype == "f32" else DGEMM
    f = module.globals.get(name)
    if f is None:
        it, ft = lib.int_type, (T.F32 if dtype == "f32" else T.F64)
        f = ir.Function(module, ir.FunctionType(T.VOID, [T.I32, T.I32, T.I32, it, it, it, ft, T.PTR, it, T.PTR, it,
                                                          ft, T.PTR, it]), name=name)
    return f


__all__ = ["BlasLibrary", "library", "available", "unavailable", "imports_for", "declare_gemm",
           "SGEMM", "DGEMM", "ROW_MAJOR", "NO_TRANS", "TRANS"]
