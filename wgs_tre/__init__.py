"""wgs_tre: governed access to whole-genome and clinical data in a trusted research environment.

``from wgs_tre import open_project`` is the researcher's entry point (see ``wgs_tre.project``);
it is imported lazily so that the CLI and services do not pay for the data stack at start-up.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "open_project"]


def __getattr__(name: str) -> Any:
    if name == "open_project":
        from wgs_tre.project import open_project

        return open_project
    raise AttributeError(f"module 'wgs_tre' has no attribute {name!r}")
