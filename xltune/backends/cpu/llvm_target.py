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
from .partition import GLUE

_init_lock = threading.Lock()
_initialized = False


def _ensure_initialized():
    global _initialized
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialized = True


# Between the parts of a program's optimized IR (and assembly): names the part's pipeline.
PART_MARKER = "; ==== xltune part: "
# What `_optimize_glue` and the glue's code generation do; part of the object cache key of a glue
# part, so a change to them is never served an object made the old way.
GLUE_PIPELINE = "sroa,instcombine,simplifycfg|codegen-O0"


@dataclass
class Compiled:
    """What one compile yields (everything the object cache stores): one object image per part
    (a program has a kernels part and a glue part, see partition.py; a runtime has one)."""
    object_images: tuple[bytes, ...]
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

    def program_key(self, parts) -> str:
        """The object cache key of a program's parts (partition.Part) compiled by compile_parts."""
        h = hashlib.sha256()
        h.update(self.cache_identity.encode())
        for p in parts:
            how = GLUE_PIPELINE if p.pipeline == GLUE else p.pipeline
            h.update(f"\0{p.pipeline}:{how}\0".encode())
            h.update(p.ir_text.encode())
        return h.hexdigest()

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
    @cached_property
    def glue_machine(self):
        """The host target with LLVM's fast instruction selector and register allocator: for
        code that runs once per call (see partition.py)."""
        target = llvm.Target.from_triple(self.triple)
        return target.create_target_machine(cpu=self.cpu, features=self.features, opt=0,
                                            reloc="pic", codemodel="small")

    def _parse(self, ir_text: str):
        try:
            mod = llvm.parse_assembly(ir_text)
            mod.triple = self.triple
            mod.data_layout = self.data_layout
            mod.verify()
        except RuntimeError as e:
            raise CompileError(f"internal error: generated LLVM IR does not verify: {e}") from None
        return mod

    def _optimize(self, mod, speed_level: int | None = None):
        """O3 (or speed_level) with loop and SLP vectorization."""
        pto = llvm.create_pipeline_tuning_options(speed_level=speed_level or self.opt_level)
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pto.loop_unrolling = True
        pb = llvm.create_pass_builder(self.machine, pto)
        pb.getModulePassManager().run(mod, pb)

    def _optimize_glue(self, mod):
        """A few cheap clean-ups: glue runs once per call, O3 would cost more than it saves."""
        pb = llvm.create_pass_builder(self.glue_machine, llvm.create_pipeline_tuning_options(speed_level=1))
        mpm = llvm.create_new_module_pass_manager()
        mpm.add_sroa_pass()
        mpm.add_instruction_combine_pass()
        mpm.add_simplify_cfg_pass()
        mpm.run(mod, pb)

    def compile_ir(self, ir_text: str, want_asm: bool = False, speed_level: int | None = None) -> Compiled:
        """Parse, verify, optimize at O3 (loop + SLP vectorization) and emit an object image
        (and the assembly listing with want_asm; else `assemble` makes it when asked).
        speed_level: another optimization level for the IR passes (code generation stays at
        the target's level); runtime libraries whose code is explicit use 2."""
        with self._lock:
            mod = self._parse(ir_text)
            self._optimize(mod, speed_level)
            optimized = str(mod)  # before code generation, which rewrites the module in place
            obj = self.machine.emit_object(mod)
            asm = self.machine.emit_assembly(mod) if want_asm else None
            return Compiled(object_images=(bytes(obj),), optimized_ir=optimized, asm=asm)

    def compile_parts(self, parts) -> Compiled:
        """A program's parts (partition.Part), each through its own pipeline: one object image
        each; the optimized IR is the parts' texts, each after a PART_MARKER line."""
        images, texts = [], []
        with self._lock:
            for p in parts:
                mod = self._parse(p.ir_text)
                if p.pipeline == GLUE:
                    self._optimize_glue(mod)
                    machine = self.glue_machine
                else:
                    self._optimize(mod)
                    machine = self.machine
                texts.append(f"{PART_MARKER}{p.pipeline}\n{mod}")
                images.append(bytes(machine.emit_object(mod)))
        return Compiled(object_images=tuple(images), optimized_ir="\n".join(texts))

    def assemble(self, optimized_ir: str) -> str:
        """The assembly listing of already optimized IR (what compile_ir's or compile_parts'
        objects hold: code generation starts from the same optimized module; no optimization
        runs again)."""
        chunks = optimized_ir.split(PART_MARKER)
        listings = []
        with self._lock:
            for chunk in chunks:
                if not chunk.strip():
                    continue
                pipeline, text = None, chunk
                if len(chunks) > 1:
                    pipeline, _, text = chunk.partition("\n")
                try:
                    mod = llvm.parse_assembly(text)
                except RuntimeError as e:
                    raise CompileError(f"internal error: optimized LLVM IR does not parse: {e}") from None
                machine = self.glue_machine if pipeline == GLUE else self.machine
                asm = machine.emit_assembly(mod)
                listings.append(f"# ==== xltune part: {pipeline}\n{asm}" if pipeline else asm)
        return "\n".join(listings)

    # ---- loading --------------------------------------------------------------------------------
    def load(self, object_images, symbols: list[str], imports: dict[str, int] | None = None) -> "LoadedLibrary":
        """Link object images (that may reference each other) into the process-wide JIT as one
        library; returns the symbols' addresses.
        imports: addresses for external names the object calls that the process does not
        export (e.g. a BLAS loaded RTLD_LOCAL)."""
        with self._lock:
            if self._jit is None:
                self._jit = llvm.create_lljit_compiler(self.machine)
            name = f"xltune_lib_{next(self._lib_ids)}"
            builder = llvm.JITLibraryBuilder()
            for image in object_images:
                builder.add_object_img(image)
            builder.add_current_process()
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
