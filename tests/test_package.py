"""The package's public names (leapserve/__init__.py): every name in leapserve.__all__ resolves,
the runtime's names there are the ones leapserve.runtime exports (its __all__), and `import
leapserve` alone imports neither numpy nor the runtime, so that the CLI's client commands start
quickly. Needs no Spark."""

from __future__ import annotations

import subprocess
import sys

import leapserve
import leapserve.runtime


def test_every_public_name_resolves():
    for name in leapserve.__all__:
        assert getattr(leapserve, name) is not None, name


def test_the_runtime_names_are_the_runtimes():
    assert sorted(leapserve._RUNTIME_NAMES) == sorted(leapserve.runtime.__all__)
    assert set(leapserve.__all__) == {*leapserve.runtime.__all__, "__version__"}
    for name in leapserve.runtime.__all__:
        assert getattr(leapserve, name) is getattr(leapserve.runtime, name), name


def test_import_leapserve_imports_no_numpy():
    code = "import sys, leapserve; print(sorted(m for m in ('numpy', 'leapserve.runtime') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
