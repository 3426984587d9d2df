"""Split a program's LLVM module into the code that does the work and the glue around it.

LLVM's O3 pipeline and its full code generator cost about a millisecond per function even when
the function is a handful of pointer loads (measured on llvmlite 0.50: a 16-function module of
one store each takes 2.6 ms of passes and 8 ms of code generation). A program's entry point, its
segment functions and the thread-launch wrappers are such functions: they run once per call and
gain nothing from vectorization. So they go into a second module that gets a few cheap passes
and LLVM's fast instruction selector, and only the functions with loops (the kernels) and what
they call get O3 with loop and SLP vectorization.

    kernels   every defined function with a loop, plus the functions they reference (helpers
              such as the vmath polynomials), except loops
              their emitter marked as glue (`CodegenContext.mark_glue`: a loop over library
              calls, such as a batched GEMM through the precompiled routine)
    glue      everything else; a function of the kernels part that the glue calls is made
              external (in the llvmlite module itself) and declared here. Every function is
              defined in exactly one part; private constants go to each part that reads them.

A module the split cannot handle (a global variable that is not private or internal, which two
parts would each define) stays one part with the O3 pipeline, as before.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from llvmlite import ir

from ...codegen.context import CodegenContext

KERNELS = "kernels"     # O3, loop + SLP vectorization, full code generation
GLUE = "glue"           # light passes, fast instruction selection

_REF = re.compile(r'@"((?:[^"\\]|\\.)*)"|@([-a-zA-Z$._][-a-zA-Z$._0-9]*)')
_LOCAL = ("internal", "private")


@dataclass(frozen=True)
class Part:
    ir_text: str
    pipeline: str       # KERNELS or GLUE


def _successors(blk: ir.Block) -> list[ir.Block]:
    term = blk.terminator
    return [op for op in term.operands if isinstance(op, ir.Block)] if term is not None else []


def _has_loop(fn: ir.Function) -> bool:
    """True when the control flow graph has a cycle (a depth-first search meets a block that is
    still on its path)."""
    if not fn.blocks:
        return False
    on_path, done = set(), set()
    stack = [(fn.blocks[0], iter(_successors(fn.blocks[0])))]
    on_path.add(id(fn.blocks[0]))
    while stack:
        blk, succ = stack[-1]
        nxt = next(succ, None)
        if nxt is None:
            stack.pop()
            on_path.discard(id(blk))
            done.add(id(blk))
        elif id(nxt) in on_path:
            return True
        elif id(nxt) not in done:
            on_path.add(id(nxt))
            stack.append((nxt, iter(_successors(nxt))))
    return False


def _marked_glue(module: ir.Module) -> set[str]:
    nmd = module.namedmetadata.get(CodegenContext.GLUE_METADATA)
    names = set()
    for node in (nmd.operands if nmd is not None else []):
        names.update(op.string for op in node.operands if isinstance(op, ir.MetaDataString))
    return names


def _refs(text: str) -> set[str]:
    return {a or b for a, b in _REF.findall(text)}


def _declaration(fn: ir.Function) -> str:
    fnty = fn.function_type
    args = ", ".join(str(a) for a in fnty.args)
    if fnty.var_arg:
        args = f"{args}, ..." if args else "..."
    return f"declare {fnty.return_type} {fn.get_reference()}({args})"


def _module_text(module: ir.Module, body: list[str], metadata: list[str]) -> str:
    head = [f'; ModuleID = "{module.name}"', f'target triple = "{module.triple}"',
            f'target datalayout = "{module.data_layout}"', ""]
    return "\n".join(head + body + metadata)


def split_module(module: ir.Module) -> list[Part]:
    """The module as one or two parts, kernels first (see the module docstring)."""
    values = list(module.globals.values())
    functions = [v for v in values if isinstance(v, ir.Function)]
    defined = {f.name: f for f in functions if f.blocks}
    variables = [v for v in values if isinstance(v, ir.GlobalVariable)]
    if any(v.linkage not in _LOCAL for v in variables):
        return [Part(str(module), KERNELS)]
    marked = _marked_glue(module)
    todo = [n for n, f in defined.items() if n not in marked and _has_loop(f)]
    if not todo:        # all glue (library calls, no loops of its own): printed once, as a whole
        return [Part(str(module), GLUE)]
    metadata = module._get_metadata_lines()
    text = {name: str(f) for name, f in defined.items()}
    refs = {name: _refs(t) for name, t in text.items()}
    var_text = {v.name: str(v) for v in variables}

    # the kernels part: functions with loops and everything defined that they reach
    kernels: set[str] = set()
    while todo:
        n = todo.pop()
        if n in kernels:
            continue
        kernels.add(n)
        todo.extend(r for r in refs[n] if r in defined and r not in kernels)

    # the glue part: every other defined function
    glue = set(defined) - kernels
    if not glue:
        return [Part(str(module), KERNELS)]

    # kernels the glue calls: external (and declared in the glue); everything else local to a part
    exported = {r for n in glue for r in refs[n] if r in kernels}
    for n in exported:
        f = defined[n]
        if f.linkage in _LOCAL:
            f.linkage = ""
            text[n] = str(f)

    def part(names: set[str], pipeline: str) -> Part:
        used = set().union(*(refs[n] for n in names))
        body = [var_text[v.name] for v in variables if v.name in used]
        for f in functions:
            if f.name in names:
                body.append(text[f.name])
            elif f.name in used:
                body.append(_declaration(f) if f.blocks else str(f))
        return Part(_module_text(module, body, metadata), pipeline)

    return [part(kernels, KERNELS), part(glue, GLUE)]
