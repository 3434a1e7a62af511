"""Heavy third-party modules imported where they are first used, not where the connector's modules are.

    if TYPE_CHECKING:
        import pyarrow as pa
    else:
        pa = deferred("pyarrow")        # nothing imported yet
    ...
    pa.table(...)                       # pyarrow imported here, by whichever thread gets here first

An extract's first request needs aiohttp, not Arrow: with pyarrow and numpy (~0.25 s of imports on a
quiet machine) deferred, ``from connector.extract import extract`` is light, and :func:`load` imports
them in a worker thread while the range probe's requests are in the air (docs/performance.md). Python's
import lock makes every other thread that needs one of them wait until it is whole.
"""

from __future__ import annotations

import importlib
import sys
import types
from functools import partial
from typing import Any

__all__ = ["ARROW", "deferred", "load", "loaded"]

# What an extract's engine uses: imported together by :func:`load` while the first requests are out.
ARROW = (
    "numpy",
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.json",
    "pyarrow.parquet",
    "pyarrow.ipc",
    "pyarrow.csv",
)


class _Deferred(types.ModuleType):
    """A stand-in for a module, replaced by the module's own namespace at the first attribute asked for."""

    def __getattr__(self, name: str) -> Any:
        module = importlib.import_module(self.__name__)
        # From now on this is a plain module holding the module's names: a lookup costs what one in the module
        # itself does (~10x less than through this method), and a name the module gains later (a submodule
        # imported since) is still found, through a module __getattr__ (PEP 562) asked only for a missing one.
        namespace = vars(self)
        namespace.update(vars(module))
        namespace["__getattr__"] = partial(getattr, module)
        self.__class__ = types.ModuleType  # type: ignore[assignment]
        return getattr(module, name)


def deferred(name: str) -> Any:
    """A stand-in for module ``name`` that imports it when one of its attributes is first used."""
    return _Deferred(name)


def loaded(names: tuple[str, ...] = ARROW) -> bool:
    """Whether every module of ``names`` has been imported already."""
    return all(name in sys.modules for name in names)


def load(names: tuple[str, ...] = ARROW) -> None:
    """Import ``names`` now, in this thread (e.g. a worker thread while the event loop waits for answers)."""
    for name in names:
        importlib.import_module(name)
