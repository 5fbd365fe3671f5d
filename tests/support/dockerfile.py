"""A small reader of the Dockerfile and .dockerignore, for tests and benches that cannot run a Docker
engine, and the build context they would send."""

from __future__ import annotations

import fnmatch
import json
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (after any --options), or None."""
        text = self.args
        while text.startswith("--"):
            _, _, text = text.partition(" ")
            text = text.lstrip()
        if self.keyword == "HEALTHCHECK":
            if not text.startswith("CMD "):
                return None
            text = text[4:].lstrip()
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    def options(self) -> dict[str, str]:
        out = {}
        for token in shlex.split(self.args):
            if token.startswith("--") and "=" in token:
                k, v = token[2:].split("=", 1)
                out[k] = v
        return out


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        out = {}
        for i in self.all("ENV"):
            for token in shlex.split(i.args):
                if "=" in token:
                    k, v = token.split("=", 1)
                    out[k] = v
        return out


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """(global ARGs, stages) of a Dockerfile: continuation lines joined, comments dropped."""
    logical: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        logical.append((start, buffer + stripped))
        buffer = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, text in logical:
        keyword, _, rest = text.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            base = parts[0]
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            if keyword == "ARG":
                k, _, v = rest.partition("=")
                args[k] = v
        else:
            stages[-1].instructions.append(Instruction(keyword, rest, number))
    return args, stages


def ignore_patterns(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def ignored(relpath: str, patterns: list[str]) -> bool:
    """Docker's rule, for the patterns used here: the last matching pattern wins, "!" re-includes,
    a pattern matching a folder applies to everything in it, "**/" matches any depth."""
    parts = relpath.strip("/").split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.strip("/")
        candidates = [pat]
        if pat.startswith("**/"):
            candidates.append(pat[3:])
        hit = False
        for p in prefixes:
            for c in candidates:
                if fnmatch.fnmatchcase(p, c) or (c.startswith(pat[3:]) and pat.startswith("**/")
                                                 and fnmatch.fnmatchcase(p.rsplit("/", 1)[-1], c)):
                    hit = True
        if hit:
            result = not negate
    return result


def build_context(dest: Path) -> Path:
    """The files `docker build` would send and the build stage copies into /src: the sources of its
    COPY lines that .dockerignore lets through, at their places in the repository."""
    _, stages = parse(DOCKERFILE)
    patterns = ignore_patterns(DOCKERIGNORE)
    for c in stages[0].all("COPY"):
        *sources, target = c.args.split()
        for src in sources:
            path = REPO / src
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            for f in files:
                rel = f.relative_to(REPO).as_posix()
                if ignored(rel, patterns):
                    continue
                out = dest / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, out)
    return dest
