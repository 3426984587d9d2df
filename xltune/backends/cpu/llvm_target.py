"""The one owner of the LLVM boundary for the CPU: target machine, optimization, objects, JIT.

Nothing else in xltune talks to `llvmlite.binding` for the CPU. Codegen hands this module LLVM IR
text (from `llvmlite.ir`); it gets back optimized IR, an object image and a loaded library whose
symbols are callable addresses. Assembly is made apart (`assemble`), from the optimized IR, only
when someone reads it: writing it cost as much as the object itself.

llvmlite >= 0.45 facts this relies on: the legacy pass manager is gone (we use the new pass
builder), `llvm.initialize()` raises (we initialize the native target and asm printer only).
"""
from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass
from functools import cached_property

import llvmlite
import llvmlite.binding as llvm

from ...errors import CompileError

_init_lock = threading.Lock()
_initialized = False


def _ensure_initialized():
    global _initialized
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialized = True


@dataclass
class Compiled:
    """What one compile of an IR module yields (everything the object cache stores)."""
    object_image: bytes
    optimized_ir: str
    asm: str | None = None      # None: not made (HostTarget.assemble makes it from optimized_ir)


class HostTarget:
    """The host CPU as LLVM sees it, and the operations that need it.

    One instance per process (`host()`); its `cache_identity` is part of every object cache key.
    """

    def __init__(self, cpu: str | None = None, features: str | None = None, opt_level: int = 3):
        _ensure_initialized()
        self.triple = llvm.get_process_triple()
        self.cpu = cpu if cpu is not None else llvm.get_host_cpu_name()
        self.features = features if features is not None else llvm.get_host_cpu_features().flatten()
        self.opt_level = opt_level
        target = llvm.Target.from_triple(self.triple)
        # PIC + small code model: objects are cached and loaded anywhere, and JITLink handles
        # their PC-relative relocations (the large model's GOTOFF64 ones it does not).
        self.machine = target.create_target_machine(cpu=self.cpu, features=self.features, opt=opt_level,
                                                    reloc="pic", codemodel="small")
        self.data_layout = str(self.machine.target_data)
        self._lock = threading.Lock()          # LLVM objects are not safe to share across threads
        self._jit = None
        self._lib_ids = itertools.count()

    # ---- vector unit --------------------------------------------------------------------------
    @cached_property
    def vector_bits(self) -> int:
        """Width of the widest SIMD registers explicit vector code should use."""
        feats = set(self.features.split(","))
        if "+avx512f" in feats:
            return 512
        if "+avx" in feats or "+avx2" in feats:
            return 256
        return 128

    @cached_property
    def vector_registers(self) -> int:
        """How many of those registers there are (x86-64: 32 with AVX-512, else 16)."""
        return 32 if "+avx512f" in self.features.split(",") else 16

    # ---- identity ---------------------------------------------------------------------------
    @cached_property
    def cache_identity(self) -> str:
        """Everything besides the IR that decides what object code we produce."""
        from ... import __version__
        return "|".join([self.triple, self.cpu, self.features, f"O{self.opt_level}", "pic-small",
                         f"llvm{'.'.join(map(str, llvm.llvm_version_info))}",
                         f"llvmlite{llvmlite.__version__}", f"xltune{__version__}"])

    def fingerprint(self) -> str:
        """A short, stable identifier of this device (the autotuner keys tuned configs by it)."""
        digest = hashlib.sha256(self.features.encode()).hexdigest()[:12]
        return f"cpu:{self.triple}:{self.cpu}:{digest}"

    def cache_key(self, ir_text: str, speed_level: int | None = None) -> str:
        """The object cache key of IR text compiled by compile_ir(ir_text, speed_level=...)."""
        h = hashlib.sha256()
        h.update(self.cache_identity.encode())
        if speed_level is not None and speed_level != self.opt_level:
            h.update(f"|O{speed_level}".encode())
        h.update(b"\0")
        h.update(ir_text.encode())
        return h.hexdigest()

    # ---- compiling ----------------------------------------------------------------------------
    def compile_ir(self, ir_text: str, want_asm: bool = False, speed_level: int | None = None) -> Compiled:
        """Parse, verify, optimize at O3 (loop + SLP vectorization) and emit an object image
        (and the assembly listing with want_asm; else `assemble` makes it when asked).
        speed_level: another optimization level for the IR passes (code generation stays at
        the target's level); runtime libraries whose code is explicit use 2."""
        with self._lock:
            try:
                mod = llvm.parse_assembly(ir_text)
                mod.triple = self.triple
                mod.data_layout = self.data_layout
                mod.verify()
            except RuntimeError as e:
                raise CompileError(f"internal error: generated LLVM IR does not verify: {e}") from None
            pto = llvm.create_pipeline_tuning_options(speed_level=speed_level or self.opt_level)
            pto.loop_vectorization = True
            pto.slp_vectorization = True
            pto.loop_unrolling = True
            pb = llvm.create_pass_builder(self.machine, pto)
            pb.getModulePassManager().run(mod, pb)
            optimized = str(mod)  # before code generation, which rewrites the module in place
            obj = self.machine.emit_object(mod)
            asm = self.machine.emit_assembly(mod) if want_asm else None
            return Compiled(object_image=bytes(obj), optimized_ir=optimized, asm=asm)

    def assemble(self, optimized_ir: str) -> str:
        """The assembly listing of already optimized IR (what compile_ir's object holds: code
        generation starts from the same optimized module; no optimization runs again)."""
        with self._lock:
            try:
                mod = llvm.parse_assembly(optimized_ir)
            except RuntimeError as e:
                raise CompileError(f"internal error: optimized LLVM IR does not parse: {e}") from None
            return self.machine.emit_assembly(mod)

    # ---- loading --------------------------------------------------------------------------------
    def load(self, object_image: bytes, symbols: list[str], imports: dict[str, int] | None = None) -> "LoadedLibrary":
        """Link an object image into the process-wide JIT; returns the symbols' addresses.
        imports: addresses for external names the object calls that the process does not
        export (e.g. a BLAS loaded RTLD_LOCAL)."""
        with self._lock:
            if self._jit is None:
                self._jit = llvm.create_lljit_compiler(self.machine)
            name = f"xltune_lib_{next(self._lib_ids)}"
            builder = llvm.JITLibraryBuilder().add_object_img(object_image).add_current_process()
            for s, addr in (imports or {}).items():
                builder.import_symbol(s, addr)
            for s in symbols:
                builder.export_symbol(s)
            try:
                tracker = builder.link(self._jit, name)
            except RuntimeError as e:
                raise CompileError(f"internal error: linking generated code failed: {e}") from None
            addresses = {s: tracker[s] for s in symbols}
        return LoadedLibrary(tracker, addresses)


class LoadedLibrary:
    """Keeps the JIT'd code alive (its ResourceTracker) as long as anything holds it."""

    __slots__ = ("tracker", "addresses")

    def __init__(self, tracker, addresses: dict[str, int]):
        self.tracker = tracker
        self.addresses = addresses

    def __getitem__(self, symbol: str) -> int:
        return self.addresses[symbol]


_host: HostTarget | None = None
_host_lock = threading.Lock()


def host() -> HostTarget:
    global _host
    with _host_lock:
        if _host is None:
            _host = HostTarget()
        return _host
