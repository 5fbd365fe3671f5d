"""Java 17's character data as a Python module of ranges (`python -m tools.character_data`).

The runtime reproduces Java's text handling (String.toLowerCase with its final-sigma rule and the
word breaks behind it, Long.parseLong's digits, Character.isDigit); Python's own answers come from
the Unicode version of each Python (14.0 on 3.11, 15.0 on 3.12, 15.1 on 3.13), Java 17's from
Unicode 13.0. So the runtime asks Java's data, taken from Java itself: CharacterTables.java beside
this file prints Character.getType, Character.digit and String.toLowerCase(Locale.ROOT) for every
code point, and this tool writes them into leapserve/runtime/jvm/character_data.py. Needs Java 17
(JAVA_HOME, else `java` on PATH); tests/tools/test_character_data.py regenerates the module and
fails when the committed one differs.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from leapserve.bundler import jars

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SOURCE = HERE / "CharacterTables.java"
TARGET = REPO / "leapserve" / "runtime" / "jvm" / "character_data.py"
JAVA_FEATURE = 17  # Spark 3.5's JVM in the training jobs


class JavaUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class CharacterTables:
    category_starts: tuple[int, ...]  # run i covers category_starts[i] up to the next start
    categories: tuple[str, ...]  # two letters per run
    digit_zeros: tuple[int, ...]  # Character.digit(c, 10) is c - zero on zero..zero+9
    lowercase: dict[int, str]  # String.toLowerCase(Locale.ROOT) of one code point, where it changes


def java_output(java: str | None = None) -> str:
    """What CharacterTables.java prints, run by Java 17 (JavaUnavailable otherwise)."""
    java = java or jars.jdk_tool("java")
    if not java:
        raise JavaUnavailable("Java 17 is needed (set JAVA_HOME or put java on PATH)")
    run = subprocess.run([java, str(SOURCE)], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise JavaUnavailable(f"{java} {SOURCE.name} failed: {run.stderr.strip()[-2000:]}")
    first = run.stdout.split("\n", 1)[0]
    version = first.removeprefix("java ")
    if not first.startswith("java ") or version.split(".")[0].split("+")[0] != str(JAVA_FEATURE):
        raise JavaUnavailable(f"{java} is Java {version!r}; the tables must come from Java {JAVA_FEATURE}")
    return run.stdout


def parse(text: str) -> CharacterTables:
    starts, categories, zeros, lowercase = [], [], [], {}
    for line in text.splitlines()[1:]:
        kind, *fields = line.split()
        if kind == "type":
            starts.append(int(fields[0], 16))
            categories.append(fields[1])
        elif kind == "digits":
            zeros.append(int(fields[0], 16))
        elif kind == "lower":
            lowercase[int(fields[0], 16)] = "".join(chr(int(f, 16)) for f in fields[1:])
        else:
            raise ValueError(f"unexpected line from {SOURCE.name}: {line!r}")
    if not starts or starts[0] != 0 or any(len(c) != 2 for c in categories):
        raise ValueError(f"{SOURCE.name} printed no category table from code point 0")
    return CharacterTables(tuple(starts), tuple(categories), tuple(zeros), lowercase)


def _lines(items: list[str], width: int = 96, indent: str = "    ") -> list[str]:
    lines, line = [], indent
    for item in items:
        if len(line) + len(item) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    if line.strip():
        lines.append(line.rstrip())
    return lines


def render(tables: CharacterTables) -> str:
    out = [
        f'"""Java {JAVA_FEATURE}\'s character data (Unicode 13.0), for the runtime\'s emulation of Java\'s text',
        "handling: written by `python -m tools.character_data` from what Java itself answers; do not edit.",
        "",
        "CATEGORY_STARTS and CATEGORIES: Character.getType as runs of code points; run i starts at",
        "CATEGORY_STARTS[i] and has category CATEGORIES[2 * i:2 * i + 2] (Unicode's abbreviation; Cn for",
        "code points Java does not know).",
        "DIGIT_ZEROS: Character.digit(c, 10) is c - zero for c in zero..zero + 9, and -1 elsewhere (these",
        "are Character.isDigit's code points, the DECIMAL_DIGIT_NUMBER category).",
        "LOWERCASE: String.toLowerCase(Locale.ROOT) of each code point it changes, alone (the final sigma",
        "depends on the characters around it).",
        '"""',
        "",
        "CATEGORY_STARTS = (",
        *_lines([f"0x{cp:04x}," for cp in tables.category_starts]),
        ")",
        "",
        "CATEGORIES = (",
        *[f'    "{line}"' for line in _chunks("".join(tables.categories), 88)],
        ")",
        "",
        "DIGIT_ZEROS = (",
        *_lines([f"0x{cp:04x}," for cp in tables.digit_zeros]),
        ")",
        "",
        "LOWERCASE = {",
        *_lines([f"0x{cp:04x}: {_quoted(low)}," for cp, low in sorted(tables.lowercase.items())]),
        "}",
        "",
    ]
    return "\n".join(out)


def _quoted(text: str) -> str:
    """A Python string literal in double quotes, non-ASCII escaped (no lowercase holds a quote)."""
    return '"' + ascii(text)[1:-1] + '"'


def _chunks(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def generate(java: str | None = None) -> str:
    """The text of character_data.py as Java 17 makes it."""
    return render(parse(java_output(java)))


def main() -> int:
    try:
        text = generate()
    except JavaUnavailable as e:
        print(f"tools.character_data: {e}", file=sys.stderr)
        return 1
    TARGET.write_text(text)
    print(TARGET.relative_to(REPO))
    return 0
