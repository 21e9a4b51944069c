"""A restricted unpickler for the pickles some releases ship (UniVL's YouCook2 captions and features).

A plain ``pickle.load`` runs whatever callable the file names. ``safe_load`` resolves only the
globals needed for builtin containers, str/bytes/numbers and numpy arrays, dtypes and scalars,
and refuses every other global before anything is called.
"""
from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

_BUILTIN_MODULES = ("builtins", "__builtin__")  # protocol < 3 pickles name the Python 2 module
_BUILTIN_NAMES = frozenset({"set", "frozenset", "bytearray", "complex"})  # pickled via REDUCE before protocol 4
_NUMPY_CORE_NAMES = {
    "multiarray": frozenset({"_reconstruct", "scalar"}),  # ndarray (protocols 0-4) and numpy scalars
    "numeric": frozenset({"_frombuffer"}),  # ndarray under protocol 5
}
_NUMPY_TOP_NAMES = frozenset({"ndarray", "dtype"})
_CODECS_NAMES = frozenset({"encode"})  # bytes under protocol < 3


def _is_allowed(module: str, name: str) -> bool:
    if module in _BUILTIN_MODULES:
        return name in _BUILTIN_NAMES
    if module == "numpy":
        return name in _NUMPY_TOP_NAMES
    if module == "_codecs":
        return name in _CODECS_NAMES
    for package in ("numpy.core.", "numpy._core."):  # numpy 1.x and 2.x spellings
        if module.startswith(package):
            return name in _NUMPY_CORE_NAMES.get(module[len(package):], ())
    return False


def _numpy_core_attribute(module: str, name: str) -> Any:
    """``name`` from a numpy core submodule, whichever spelling (1.x or 2.x) the pickle used."""
    submodule = module.split(".", 2)[2]
    for package in ("numpy._core", "numpy.core"):  # prefer 2.x: its 1.x shim warns on access
        try:
            return getattr(importlib.import_module(f"{package}.{submodule}"), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"the installed numpy has no '{module}.{name}'")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` resolves only allow-listed, side-effect-free globals."""

    def find_class(self, module: str, name: str) -> Any:
        if not _is_allowed(module, name):
            raise pickle.UnpicklingError(
                f"refused global '{module}.{name}' (only builtin containers, "
                "str/bytes/numbers and numpy arrays, dtypes and scalars may be unpickled)"
            )
        if module.startswith(("numpy.core.", "numpy._core.")):
            return _numpy_core_attribute(module, name)
        return super().find_class(module, name)


def safe_load(path: Path) -> Any:
    """Unpickle ``path`` with :class:`RestrictedUnpickler`; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pickle file '{path}' does not exist")
    with open(path, "rb") as fh:
        try:
            return RestrictedUnpickler(fh).load()
        except pickle.UnpicklingError as exc:
            raise pickle.UnpicklingError(f"{path}: {exc}") from None
        except (EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
            raise pickle.UnpicklingError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
