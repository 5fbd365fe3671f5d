"""ghz, the Go gRPC load tool, for the unary latency bench (bench/grpc.py --ghz).

    .venv/bin/python bench/ghz.py          # install (when missing) and print the path of the binary

Built with ``go install`` from the Go module proxy into the cache (``$LEAPSERVE_CACHE/ghz-VERSION``,
else ``$XDG_CACHE_HOME/leapserve``, else ``~/.cache/leapserve``): a non-Python client, so that the
client's own Python does not weigh on the numbers. Needs the ``go`` command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

GHZ_MODULE = "github.com/bojand/ghz/cmd/ghz"
GHZ_VERSION = "v0.93.0"  # the version the Go module proxy lists for github.com/bojand/ghz


def cache_dir() -> Path:
    if os.environ.get("LEAPSERVE_CACHE"):
        return Path(os.environ["LEAPSERVE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "leapserve"


def ensure_ghz() -> Path:
    """The path of the ghz binary, installed first when it is not in the cache."""
    bin_dir = cache_dir() / f"ghz-{GHZ_VERSION}"
    binary = bin_dir / "ghz"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        raise SystemExit("ghz: the go command is not on PATH (needed to build ghz with go install)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOBIN=str(bin_dir))
    subprocess.run([go, "install", f"{GHZ_MODULE}@{GHZ_VERSION}"], env=env, check=True)
    return binary


if __name__ == "__main__":
    print(ensure_ghz())
    sys.exit(0)
