"""Every error xltune raises for bad input derives from XltuneError.

Errors that point into source text carry a SourceLoc so that a notebook user sees
"line 3, column 14" and the offending text, never a traceback from deep inside.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLoc:
    line: int
    col: int
    source: str = "<input>"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}"


class XltuneError(Exception):
    """Base class of every error xltune raises on purpose."""

    def __init__(self, message: str, loc: SourceLoc | None = None):
        self.message = message
        self.loc = loc
        super().__init__(self._format())

    def _format(self) -> str:
        if self.loc is None:
            return self.message
        return f"{self.loc}: {self.message}"

    @property
    def line(self) -> int | None:
        return self.loc.line if self.loc else None

    @property
    def col(self) -> int | None:
        return self.loc.col if self.loc else None


class ParseError(XltuneError):
    """Malformed input text. Always has a location; `snippet` is the offending text."""

    def __init__(self, message: str, loc: SourceLoc, snippet: str = ""):
        self.snippet = snippet
        super().__init__(message, loc)

    def _format(self) -> str:
        base = f"{self.loc}: {self.message}"
        if self.snippet:
            base += f" (at {self.snippet!r})"
        return base


class UnsupportedOpError(XltuneError):
    """An op xltune does not know, or a form of an op it cannot handle."""

    def __init__(self, op: str, loc: SourceLoc | None = None, detail: str = ""):
        self.op = op
        msg = f"unsupported op '{op}'"
        if detail:
            msg += f": {detail}"
        super().__init__(msg, loc)


class VerificationError(XltuneError):
    """The IR breaks a rule (types, arity, attributes, dominance)."""


class ArgumentError(XltuneError, TypeError):
    """A compiled program was called with the wrong number, shape or dtype of arguments."""


class CompileError(XltuneError):
    """A stage of the pipeline could not handle a well-formed program."""


class ExecutionError(XltuneError):
    """Running a compiled program failed (e.g. a native kernel reported an error)."""


class TuningError(XltuneError):
    """The autotuner could not do what was asked (bad storage URL, no successful trial...)."""


class TraceError(XltuneError):
    """A Python function could not be traced into a Module; loc points at the user's line."""
