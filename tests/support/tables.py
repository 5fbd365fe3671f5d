"""The benchmarks' result table (bench/rest.py, bench/grpc.py, bench/mleap.py). It lives here, not in
bench/, because the bench folder stays off the import path (bench/grpc.py would shadow grpc) and the
bench scripts already import from tests.support."""

from __future__ import annotations

import os
import sys
from datetime import date


def print_table(rows, markdown: bool, load: tuple[float, float], title: str, library: str) -> None:
    """Print rows of (measurement, value, compared): as Markdown (docs/benchmarks.md) under a line
    saying when and where they were measured, else as aligned columns under ``title``. ``load`` is
    the load average at the start and at the end; ``library`` names the client library and its
    version (e.g. "grpcio 1.85.3")."""
    cpus = os.cpu_count()
    busy = f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end"
    if markdown:
        print(f"Measured {date.today().isoformat()} on {cpus} cores ({busy}), Python {sys.version.split()[0]}, "
              f"{library}.\n")
        print("| measurement | value | compared |")
        print("|---|---|---|")
        for name, value, note in rows:
            print(f"| {name} | {value} | {note} |")
        return
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(r[1]) for r in rows)
    print(f"{title}, {date.today().isoformat()}, {cpus} cores, {busy}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{vwidth}}  {note}")
