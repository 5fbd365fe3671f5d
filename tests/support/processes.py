"""The processes this test process started, read from Linux /proc."""

from __future__ import annotations

import os
from pathlib import Path


def descendants() -> dict[int, list[str]]:
    """pid -> command line of every live process started, directly or not, by this one."""
    parent: dict[int, int] = {}
    argv: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # gone since the listing
            continue
        pid = int(entry.name)
        parent[pid] = int(stat.rsplit(")", 1)[1].split()[1])  # the name in (...) may hold spaces
        argv[pid] = cmdline.decode(errors="replace").split("\0")[:-1]
    found: dict[int, list[str]] = {}
    frontier = [os.getpid()]
    while frontier:
        ppid = frontier.pop()
        for pid, of in parent.items():
            if of == ppid:
                found[pid] = argv[pid]
                frontier.append(pid)
    return found


def server_pid_threads(server) -> int:
    """Threads of a server process (a tests.support.servers.ServerProcess)."""
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def server_rss_kib(server) -> int:
    """Resident memory of a server process, in KiB."""
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS line")
