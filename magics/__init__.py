"""xltune.magics: `%load_ext xltune` registers `%%xla`, `%xla_tune` and `%xla_report`.

    %%xla [--backend cpu|gpu|interpreter] [--name NAME] [--config JSON] [--no-timing] [--budget S] [--quiet]
    %xla_tune NAME [--trials N] [--timeout S] [--storage URL] [--study NAME]
    %xla_report NAME [--html OUT]

See docs/notebooks.md.
"""
from __future__ import annotations

from .cell import CellError
from .magics import XlaMagics


def load_ipython_extension(ipython):
    ipython.register_magics(XlaMagics)


__all__ = ["XlaMagics", "CellError", "load_ipython_extension"]
