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


def unload_ipython_extension(ipython):
    # IPython keeps no unregister for a Magics class: drop its names from the tables
    table = ipython.magics_manager.magics
    for kind, names in (("cell", ("xla",)), ("line", ("xla_tune", "xla_report"))):
        for n in names:
            table[kind].pop(n, None)
    ipython.magics_manager.registry.pop("XlaMagics", None)


__all__ = ["XlaMagics", "CellError", "load_ipython_extension", "unload_ipython_extension"]
