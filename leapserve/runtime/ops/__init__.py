"""One module per op family. Importing this package imports every module in it, and each module
registers its ops with the registry; adding an op is adding (or extending) one module here. What the
ops are built from lives beside this package: model.py (OpModel and the shared classification and
vector logic) and trees.py (tree files read and compiled for the tree ops)."""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")
