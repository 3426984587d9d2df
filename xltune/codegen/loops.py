"""Counted loops in LLVM IR and the loop metadata that carries vectorization hints.

Used by any backend that iterates inside a function (CPU kernels, GPU per-thread loops). The
loops have the canonical shape LLVM's loop vectorizer expects: one induction variable starting
at `start`, stepping by a constant, one exit test.
"""
from __future__ import annotations

from contextlib import contextmanager

from llvmlite import ir

from .lltypes import I1, I32, I64


class _LoopID(ir.values.MDValue):
    """`distinct !{!self, hints...}`: the self-referential node LLVM wants for llvm.loop."""

    def descr(self, buf):
        ops = [self.get_reference()] + [op.get_reference() for op in self.operands]
        buf += ("distinct !{{ {0} }}".format(", ".join(ops)), "\n")


def loop_metadata(module: ir.Module, vector_width: int = 0, interleave: int = 0,
                  unroll: int = 0, disable_vectorize: bool = False):
    """A loop id carrying hints. 0 means "let LLVM decide"."""
    hints = []

    def hint(name, value=None):
        ops = [ir.MetaDataString(module, name)]
        if value is not None:
            ops.append(value)
        hints.append(module.add_metadata(ops))

    if disable_vectorize or vector_width == 1:
        hint("llvm.loop.vectorize.width", ir.Constant(I32, 1))
        hint("llvm.loop.vectorize.enable", ir.Constant(I1, 0))
    elif vector_width:
        hint("llvm.loop.vectorize.enable", ir.Constant(I1, 1))
        hint("llvm.loop.vectorize.width", ir.Constant(I32, vector_width))
    if interleave:
        hint("llvm.loop.interleave.count", ir.Constant(I32, interleave))
    if unroll == 1:
        hint("llvm.loop.unroll.disable")
    elif unroll:
        hint("llvm.loop.unroll.count", ir.Constant(I32, unroll))
    if not hints:
        return None
    return _LoopID(module, hints, name=str(len(module.metadata)))


_VECTOR_HINTS = ("llvm.loop.vectorize.", "llvm.loop.interleave.")


def _calls_opaque_function(blocks) -> bool:
    """Does any of these blocks call a function LLVM cannot vectorize: one only declared here
    (libm, runtime calls) that is not an intrinsic?"""
    for blk in blocks:
        for ins in blk.instructions:
            if isinstance(ins, ir.CallInstr):
                callee = ins.callee   # a function defined in the module is inlined first
                if getattr(callee, "is_declaration", False) and not callee.name.startswith("llvm."):
                    return True
    return False


def _without_vector_hints(metadata):
    """The loop id minus its vectorize/interleave hints (None when nothing is left). Forcing
    them on a loop that calls libm makes LLVM print "loop not vectorized" warnings on stderr
    (a notebook user's cell output) and changes nothing else."""
    def forcing(op) -> bool:  # a hint turning vectorization off is kept: it never warns
        name = str(op.operands[0].string)
        value = op.operands[1].constant if len(op.operands) > 1 else None
        if name == "llvm.loop.vectorize.enable":
            return bool(value)
        if name == "llvm.loop.vectorize.width":
            return value is not None and value > 1
        return any(name.startswith(h) for h in _VECTOR_HINTS)

    keep = [op for op in metadata.operands if not forcing(op)]
    if len(keep) == len(metadata.operands):
        return metadata
    if not keep:
        return None
    return _LoopID(metadata.parent, keep, name=str(len(metadata.parent.metadata)))


def fitted_loop_metadata(module: ir.Module, vector_width: int, interleave: int, trip: int | None,
                         unroll: int = 0):
    """loop_metadata with the width and interleave hints clipped to a loop's trip count (or its
    bound, for a tile's partial loops) when known: LLVM cannot vectorize a 16-iteration loop 16
    wide twice interleaved, and says so on stderr when it was asked to."""
    if trip is not None and vector_width > 1:
        if trip < 2 * vector_width:
            vector_width, interleave = 0, 1
        else:
            interleave = max(1, min(interleave or 1, trip // vector_width // 2))
    return loop_metadata(module, vector_width=vector_width, interleave=interleave, unroll=unroll)


@contextmanager
def for_range(b: ir.IRBuilder, start, stop, step: int = 1, name: str = "i", metadata=None):
    """`for (i = start; i < stop; i += step)` over i64; yields i. The body may add blocks; the
    builder is left at the loop exit."""
    start = start if isinstance(start, ir.Value) else ir.Constant(I64, int(start))
    stop = stop if isinstance(stop, ir.Value) else ir.Constant(I64, int(stop))
    pre = b.block
    header = b.append_basic_block(f"{name}.header")
    body = b.append_basic_block(f"{name}.body")
    exit_ = b.append_basic_block(f"{name}.exit")
    b.branch(header)
    b.position_at_end(header)
    i = b.phi(I64, name=name)
    i.add_incoming(start, pre)
    b.cbranch(b.icmp_signed("<", i, stop), body, exit_)
    b.position_at_end(body)
    yield i
    nxt = b.add(i, ir.Constant(I64, step), name=f"{name}.next", flags=("nuw", "nsw"))
    latch = b.branch(header)
    if metadata is not None:
        blocks = b.function.blocks
        first = blocks.index(body)
        if _calls_opaque_function(blocks[first:]):
            metadata = _without_vector_hints(metadata)
    if metadata is not None:
        latch.set_metadata("llvm.loop", metadata)
    i.add_incoming(nxt, b.block)
    b.position_at_end(exit_)
