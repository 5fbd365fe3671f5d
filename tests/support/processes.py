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


def proc_status(pid: int) -> dict[str, str]:
    """The fields of /proc/PID/status, name -> value as written ("Threads" -> "4", "VmRSS" -> "1234 kB")."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def server_thread_count(server) -> int:
    """Threads of a server process (a tests.support.servers.ServerProcess)."""
    return int(proc_status(server.proc.pid)["Threads"])


def server_rss_kib(server) -> int:
    """Resident memory of a server process, in KiB."""
    return int(proc_status(server.proc.pid)["VmRSS"].split()[0])
