"""Every stage of a compile as tabs (HTML) or as a short listing (text)."""
from __future__ import annotations

from . import html as H

# Stage text can be large (LLVM IR, assembly); a notebook output stays readable and small.
MAX_LINES = 400
MAX_CHARS = 60_000

STAGE_TITLES = {
    "input": "the program as given",
    "hlo": "HLO-style IR before the passes",
    "fusion_log": "every fusion decision and why",
    "fused": "after fusion: kernels as fusion instructions",
    "buffers": "buffer plan: where every value lives",
    "schedule": "the run-time plan: native segments, copies, fallbacks",
    "llvm": "LLVM IR",
    "asm": "machine code",
    "ptx": "PTX",
    "dce": "after dead-code elimination",
    "cse": "after common-subexpression elimination",
    "constant-folding": "after constant folding",
    "algebraic": "after algebraic simplification",
}


def stage_title(name: str) -> str:
    return STAGE_TITLES.get(name, f"after the {name} pass")


def clip(text: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS) -> tuple[str, int]:
    """text cut to max_lines / max_chars, and how many lines were left out."""
    lines = text.splitlines()
    kept, size = [], 0
    for line in lines[:max_lines]:
        if size + len(line) > max_chars:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept), len(lines) - len(kept)


def _panel(name: str, text: str, owner: str, max_lines: int) -> str:
    body, left = clip(text, max_lines)
    parts = [H.note(f"{stage_title(name)} — {len(text.splitlines())} lines")]
    parts.append(H.pre(body) if text.strip() else H.note("(empty: this stage produced no text)"))
    if left:
        parts.append(H.note(f"… {left} more lines: {owner}.stages[{name!r}] has the full text"))
    return "".join(parts)


def stages_html(exe, owner: str = "exe", max_lines: int = MAX_LINES, selected: str | None = None) -> str:
    """Tabs, one per stage (`exe.stages` order); `owner` is the name the notes refer to."""
    names = list(exe.stages)
    panels = [(n, _panel(n, exe.stages[n], owner, max_lines)) for n in names]
    pick = names.index(selected) if selected in names else (names.index("fused") if "fused" in names else 0)
    return H.tabs(panels, pick)


def stages_text(exe) -> str:
    """One line per stage: its name and size (the terminal form of the tabs)."""
    out = []
    for name, text in exe.stages.items():
        n = len(text.splitlines())
        out.append(f"  {name:<16} {n:>6} lines  {stage_title(name)}")
    return "\n".join(out)
