"""Minimal pytrees: nested tuples, lists, dicts (sorted keys), namedtuples and None.

Used for function arguments and results, loop carries and branch outputs, as jax uses its
pytrees. A treedef is hashable, so it can be part of a jit cache key.
"""
from __future__ import annotations

from typing import Any

LEAF = ("*",)
NONE = ("None",)


def flatten(obj) -> tuple[list, tuple]:
    leaves: list = []
    return leaves, _flatten(obj, leaves)


def _flatten(obj, leaves) -> tuple:
    if obj is None:
        return NONE
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("namedtuple", type(obj), tuple(_flatten(v, leaves) for v in obj))
    if isinstance(obj, tuple):
        return ("tuple", tuple(_flatten(v, leaves) for v in obj))
    if isinstance(obj, list):
        return ("list", tuple(_flatten(v, leaves) for v in obj))
    if isinstance(obj, dict):
        keys = sorted(obj, key=repr)
        return ("dict", tuple(keys), tuple(_flatten(obj[k], leaves) for k in keys))
    leaves.append(obj)
    return LEAF


def unflatten(tree: tuple, leaves) -> Any:
    it = iter(leaves)
    out = _unflatten(tree, it)
    return out


def _unflatten(tree, it):
    kind = tree[0]
    if tree == LEAF:
        return next(it)
    if tree == NONE:
        return None
    if kind == "tuple":
        return tuple(_unflatten(t, it) for t in tree[1])
    if kind == "list":
        return [_unflatten(t, it) for t in tree[1]]
    if kind == "dict":
        return {k: _unflatten(t, it) for k, t in zip(tree[1], tree[2])}
    if kind == "namedtuple":
        return tree[1](*(_unflatten(t, it) for t in tree[2]))
    raise ValueError(f"bad treedef {tree!r}")


def paths(tree: tuple, prefix: str = "") -> list[str]:
    """A readable path per leaf ('[0]', "['w']", '.field'), in flatten order."""
    if tree == LEAF:
        return [prefix]
    if tree == NONE:
        return []
    kind = tree[0]
    out: list[str] = []
    if kind in ("tuple", "list"):
        for i, t in enumerate(tree[1]):
            out += paths(t, f"{prefix}[{i}]")
    elif kind == "dict":
        for k, t in zip(tree[1], tree[2]):
            out += paths(t, f"{prefix}[{k!r}]")
    elif kind == "namedtuple":
        for f, t in zip(tree[1]._fields, tree[2]):
            out += paths(t, f"{prefix}.{f}")
    return out


def describe(tree: tuple) -> str:
    """A short description of a structure for error messages."""
    if tree == LEAF:
        return "*"
    if tree == NONE:
        return "None"
    kind = tree[0]
    if kind == "tuple":
        inner = ", ".join(describe(t) for t in tree[1])
        return f"({inner}{',' if len(tree[1]) == 1 else ''})"
    if kind == "list":
        return "[" + ", ".join(describe(t) for t in tree[1]) + "]"
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {describe(t)}" for k, t in zip(tree[1], tree[2])) + "}"
    return f"{tree[1].__name__}(" + ", ".join(describe(t) for t in tree[2]) + ")"
