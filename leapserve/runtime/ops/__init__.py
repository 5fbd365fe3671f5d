"""One module per op family. Importing this package imports every module in it, and each module
registers its ops with the registry; adding an op is adding (or extending) one module here."""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"{__name__}.{_module}")
