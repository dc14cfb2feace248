"""Old import paths of moved modules, kept working for one release (issue 12's package redesign).

``install_moved({"firmware_bridge.recording": "firmware_bridge.io.recording"})`` makes
``import firmware_bridge.recording`` give the module at its new path and emit a
:class:`DeprecationWarning` that names the new path. The alias is a finder on
``sys.meta_path`` rather than a file at the old path, so the old file is really gone and git
follows the move: edits made on other branches to the old file merge into the new one.

An alias naming one new module returns that very module (monkeypatching it through either
name works); an alias naming several (a module that was split) is a module holding the public
names of all of them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Mapping, Sequence

#: The release that removes the old paths.
REMOVED_IN = "0.2"


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves each old module name from its new module(s), with a deprecation warning."""

    def __init__(self) -> None:
        self.moves: dict[str, tuple[str, ...]] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        if fullname not in self.moves:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # a plain module; exec_module puts the real one in its place

    def exec_module(self, module: types.ModuleType) -> None:
        old = module.__name__
        new = self.moves[old]
        warnings.warn(
            f"{old} moved to {' and '.join(new)}; the old name goes in tremorscope {REMOVED_IN}",
            DeprecationWarning,
            stacklevel=2,  # the importer: warnings skips the import system's own frames
        )
        targets = [importlib.import_module(name) for name in new]
        if len(targets) == 1:
            sys.modules[old] = targets[0]  # the import system returns what sys.modules holds
            return
        for target in targets:  # the first module that has a name gives it
            names = getattr(target, "__all__", None) or [n for n in vars(target) if not n.startswith("_")]
            for name in names:
                if not hasattr(module, name):
                    setattr(module, name, getattr(target, name))
        module.__doc__ = f"Deprecated alias of {', '.join(new)}."


_FINDER = MovedModuleFinder()


def install_moved(moves: Mapping[str, str | Sequence[str]]) -> None:
    """Register old module name -> new module name(s); idempotent."""
    for old, new in moves.items():
        _FINDER.moves[old] = (new,) if isinstance(new, str) else tuple(new)
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)  # last: a real module of that name would still win
