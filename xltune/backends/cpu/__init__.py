"""The CPU backend: fused module -> LLVM IR -> optimized object (cached on disk) -> JIT -> runner.

    plan      program.plan_program   which instructions are native kernels, which fall back,
                                     where every value lives (params, outputs, constants, arena)
    emit      program.build_llvm     one LLVM module: kernels + one function per native segment
    split     partition              the kernels (functions with loops) apart from the glue
    compile   llvm_target.host()     kernels: O3 with loop/SLP vectorization for the host CPU;
                                     glue: a few cheap passes and the fast instruction selector
    cache     objcache               keyed by (IR, triple, CPU, features, versions); plancache finds
                                     a warm compile's object without emitting IR
    run       runtime.CpuRunner      pointer table + ctypes, interpreter for fallbacks

Stages added: "schedule" (the plan), "llvm" (optimized IR), "asm" (made when first read). Stats added: "native_kernels",
"fallback_ops", "object_cache" ("hit"/"miss"/"off"), "llvm_seconds", "codegen_seconds".
"""
from __future__ import annotations

import functools
import time

from ...config import Config
from ...executable import lazy_stage
from . import blas, gemmrt, objcache, plancache, rowlib, threads
from .llvm_target import host
from .partition import split_module
from .program import KernelNotLowerable, build_llvm, demote, kernel_knobs, plan_program
from .runtime import CpuRunner


def _assembly(target, okey: str | None, optimized_ir: str) -> str:
    """exe.stages["asm"] when first read: from the object cache, else made from the optimized
    IR (and stored there for the next reader)."""
    cache = objcache.object_cache()
    asm = cache.get_asm(okey) if okey else None
    if asm is None:
        asm = target.assemble(optimized_ir)
        if okey:
            cache.put_asm(okey, asm)
    return asm


def _imports(ir_text: str) -> dict[str, int]:
    """Addresses of the outside functions (BLAS, the threads, GEMM and row runtimes) that IR
    text names."""
    return {**blas.imports_for(ir_text), **threads.imports_for(ir_text), **gemmrt.imports_for(ir_text),
            **rowlib.imports_for(ir_text)}


class CpuBackend:
    name = "cpu"
    runs_passes = True
    default_pipeline = "simplify,fusion,buffers"

    def knobs(self, module) -> list:
        return kernel_knobs(module)

    def build(self, module, config: Config, stages: dict, stats: dict):
        t0 = time.perf_counter()
        plan = plan_program(module, config)
        target = host()
        # a warm compile finds its object without emitting LLVM IR (plancache)
        pkey = plancache.plan_key(module, config, target, kernel_knobs(module)) if objcache.enabled() else None
        rec = plancache.lookup(pkey) if pkey else None
        compiled = objcache.object_cache().get(rec["object"]) if rec else None
        if compiled is not None:
            for k, reason in rec["demoted"]:
                demote(plan, plan.steps[k], reason)
            segments, import_names, okey = rec["segments"], rec.get("imports", []), rec["object"]
        else:
            demoted = []
            for _ in range(len(plan.steps) + 1):
                try:
                    llmod, segments = build_llvm(plan, config)
                    break
                except KernelNotLowerable as e:
                    demoted.append([plan.steps.index(e.step), e.reason])
                    demote(plan, e.step, e.reason)
        stages["schedule"] = plan.text()
        stats["native_kernels"] = len(plan.kernels)
        stats["fallback_ops"] = len(plan.fallbacks)
        if plan.fallbacks:
            stats["fallbacks"] = [f"{s.inst.ref} ({s.inst.opcode}): {s.reason}" for s in plan.fallbacks]
        t1 = time.perf_counter()
        stats["codegen_seconds"] = t1 - t0
        library = None
        if segments:
            if compiled is not None:
                stats["object_cache"] = "hit"
            else:
                parts = split_module(llmod)
                ir_text = "\n".join(p.ir_text for p in parts)
                okey = target.program_key(parts)
                cache = objcache.object_cache()
                compiled = cache.get(okey)
                if compiled is None:
                    compiled = target.compile_parts(parts)
                    cache.put(okey, compiled)
                    stats["object_cache"] = "miss" if objcache.enabled() else "off"
                else:
                    stats["object_cache"] = "hit"
                import_names = sorted(_imports(ir_text))
                if pkey:
                    plancache.store(pkey, {"object": okey, "segments": segments, "demoted": demoted,
                                           "imports": import_names})
            stages["llvm"] = compiled.optimized_ir
            if compiled.asm is not None:
                stages["asm"] = compiled.asm
            else:
                lazy_stage(stages, "asm", functools.partial(_assembly, target, okey, compiled.optimized_ir))
            imports = _imports(" ".join(f'@"{n}" {n}' for n in import_names))
            library = target.load(compiled.object_images, segments, imports=imports)
        else:
            stages["llvm"] = "; no native code: every instruction runs in the interpreter\n"
            stages["asm"] = ""
            stats["object_cache"] = "off"
        stats["llvm_seconds"] = time.perf_counter() - t1
        return CpuRunner(plan, library, segments, module, stats)

    def fingerprint(self) -> str:
        return host().fingerprint()


__all__ = ["CpuBackend"]
