"""docs/first-hour.md, run as it is written: its ```sh blocks in order, in one bash, and what each
prints against the ```text block that follows it.

The walkthrough starts on a fresh clone after `make demo`; the temporary folder it runs in stands in
for one: `.venv` links to this test's virtualenv and `build/examples/` holds what `make demo` writes
there (the same `write` of leapserve.bundler.examples, on the session's Spark). Everything else is
the page's own commands: the real `leapserve export` (its own Spark), `inspect`, a `serve` in the
background, `predict` and `health`. The one substitution is the port: LEAPSERVE_PORT is a free one,
which `serve`, `predict` and `health` all read, and the page's 127.0.0.1:50051 in the outputs shown
becomes that address.

Outputs are compared line by line, in order (stderr merged with stdout, unbuffered, as a terminal
shows them): `...` inside a line stands for any text, a line of `...` alone for any lines.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.servers import REPO, free_port

PAGE = REPO / "docs" / "first-hour.md"
DOCUMENTED_ADDRESS = "127.0.0.1:50051"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)


@dataclass
class Step:
    commands: list[str]  # logical command lines (backslash continuations joined)
    expected: list[str] | None  # the ```text block after it, if any


def steps_of(text: str) -> list[Step]:
    steps: list[Step] = []
    for kind, body in ((m.group(1), m.group(2)) for m in FENCE.finditer(text)):
        if kind == "sh":
            steps.append(Step(commands=logical_lines(body), expected=None))
        elif kind == "text" and steps and steps[-1].expected is None:
            steps[-1].expected = body.rstrip("\n").split("\n")
    return steps


def logical_lines(body: str) -> list[str]:
    lines, pending = [], ""
    for line in body.split("\n"):
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip() and not pending.lstrip().startswith("#"):
            lines.append(pending.strip())
        pending = ""
    return lines


def script_of(steps: list[Step]) -> str:
    """One bash script: a marker line before each step; a command that exits non-zero ends the run
    naming it (a documented failure is written `cmd; echo "exit $?"`, which exits 0)."""
    out = ['__failed() { echo "@@failed: exit $1: $2"; exit 90; }']
    for i, step in enumerate(steps):
        out.append(f'echo "@@step {i}@@"')
        for command in step.commands:
            quoted = command.replace("'", "'\\''")
            out.append(command)
            out.append(f"__rc=$?; [ $__rc -eq 0 ] || __failed $__rc '{quoted}'")
    return "\n".join(out) + "\n"


def outputs_by_step(output: str, count: int) -> list[list[str]]:
    parts = re.split(r"^@@step (\d+)@@\n", output, flags=re.M)
    by_step = [[] for _ in range(count)]
    for index, text in zip(parts[1::2], parts[2::2]):
        by_step[int(index)] = text.rstrip("\n").split("\n") if text.strip() else []
    return by_step


def line_pattern(expected: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in expected.rstrip().split("...")))


def mismatch(expected: list[str], actual: list[str]) -> str | None:
    """None when `actual` is what `expected` shows (see the module docstring), else why not."""
    position, skipping = 0, False
    for wanted in expected:
        if wanted.strip() == "...":
            skipping = True
            continue
        pattern = line_pattern(wanted)
        while position < len(actual) and not pattern.fullmatch(actual[position].rstrip()):
            if not skipping:
                return f"expected {wanted!r}, got {actual[position]!r} (line {position + 1})"
            position += 1
        if position == len(actual):
            return f"expected {wanted!r}, not printed"
        position, skipping = position + 1, False
    if position < len(actual) and not skipping:
        return f"printed more than shown, from {actual[position]!r}"
    return None


def test_matching_follows_the_page_conventions():
    """The comparison itself: without this, a lenient matcher would let the page drift."""
    shown = ["leapserve predict: model penguins version 2 answered", '{"predicted_species": "Gentoo", "p": [0.12...]}']
    printed = ["leapserve predict: model penguins version 2 answered", '{"predicted_species": "Gentoo", "p": [0.1234]}']
    assert mismatch(shown, printed) is None
    assert "version 2" in mismatch(shown, ["leapserve predict: model penguins version 1 answered", printed[1]])
    assert mismatch(shown, printed[:1]) is not None  # a line shown but not printed
    assert mismatch(shown[:1], printed) is not None  # a line printed but not shown
    assert mismatch(["a", "...", "z"], ["a", "b", "c", "z"]) is None
    assert mismatch(["a", "z"], ["a", "b", "z"]) is not None
    assert mismatch(["exit 1"], ["exit 0"]) is not None
    assert logical_lines("a \\\n  b\n# note\n\nc\n") == ["a    b", "c"]


def _walkthrough_env(port: int) -> dict:
    # The caller's LEAPSERVE_* settings would change what the commands do; the jar cache is the
    # machine's, which export needs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAPSERVE_") or k == "LEAPSERVE_CACHE"}
    env.update(PYTHONUNBUFFERED="1", LEAPSERVE_PORT=str(port))
    return env


@pytest.fixture(scope="module")
def clone(spark, tmp_path_factory) -> Path:
    """A folder standing in for a fresh clone after `make demo`: .venv and build/examples/."""
    from leapserve.bundler.examples import EXAMPLES

    venv = Path(sys.prefix)
    assert (venv / "bin" / "activate").is_file() and (venv / "bin" / "leapserve").is_file(), \
        f"the walkthrough activates a virtualenv with the leapserve command; {venv} is not one"
    root = tmp_path_factory.mktemp("clone")
    (root / ".venv").symlink_to(venv)
    for example in EXAMPLES.values():  # what `make demo` runs: python -m leapserve.bundler.examples
        example.write(root / "build" / "examples")
    return root


@pytest.mark.timeout(400)
def test_first_hour_walkthrough_runs_as_written(clone):
    steps = steps_of(PAGE.read_text())
    commands = [c for s in steps for c in s.commands]
    for needed in ("leapserve export ", "leapserve inspect ", "leapserve inspect --model-dir", "leapserve serve ",
                   "leapserve predict ", "leapserve health", "default_version", "kill "):
        assert any(needed in c for c in commands), f"the walkthrough no longer runs {needed!r}"
    shown = "\n".join(line for s in steps for line in s.expected or [])
    for needed in ("version 1 answered", "version 2 answered", "SchemaChanged", "exit 0", "exit 1", "exit 4"):
        assert needed in shown, f"the walkthrough no longer shows {needed!r}"

    port = free_port()
    address = f"127.0.0.1:{port}"
    # A session of its own: whatever the page started (the background server) is stopped below,
    # whether or not its own `kill` ran.
    process = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", script_of(steps)], cwd=clone,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=_walkthrough_env(port), start_new_session=True)
    log = clone / "build" / "first-hour" / "serve.log"
    try:
        output, _ = process.communicate(timeout=300)
        # The page's last step stops the server: it drains and says so.
        stopped_by_page = _logged_within(log, "leapserve.server: stopped", 15)
    finally:
        _stop_group(process.pid)
    server_log = log.read_text() if log.exists() else "(no serve.log)"
    context = f"\n--- output ---\n{output}\n--- serve.log ---\n{server_log}"

    failed = re.search(r"^@@failed: .*", output, re.M)
    assert not failed and process.returncode == 0, (failed.group(0) if failed else process.returncode, context)
    printed = outputs_by_step(output, len(steps))
    for i, step in enumerate(steps):
        if step.expected is None:
            continue
        expected = [line.replace(DOCUMENTED_ADDRESS, address) for line in step.expected]
        why = mismatch(expected, printed[i])
        assert why is None, f"step {i} ({step.commands[0]!r}): {why}{context}"
    assert stopped_by_page, f"the server was still running after the page's last step{context}"


def _logged_within(log: Path, text: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not (log.exists() and text in log.read_text()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _stop_group(pgid: int) -> None:
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
