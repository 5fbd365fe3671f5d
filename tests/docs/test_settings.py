"""Every LEAPSERVE_* setting the code reads is in docs/operations.md's one table of settings, with
its flag or *(none)*.

The names are found in the sources of leapserve/, server/ and bundler/: written out
(``"LEAPSERVE_MAX_BUNDLE_BYTES"``, also in a help text or a message), or made from a flag by
leapserve/cli/environment.py (``env("--timeout")`` reads LEAPSERVE_TIMEOUT).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("leapserve", "server", "bundler")
TABLE_DOC = REPO / "docs" / "operations.md"
TABLE_HEADING = "## Flags and environment variables"

# A whole name: not the start of a longer one, nor a pattern such as LEAPSERVE_MAX_BUNDLE_* or
# LEAPSERVE_<FLAG>.
WRITTEN_NAME = re.compile(r"\bLEAPSERVE_[A-Z0-9_]+(?![A-Za-z0-9_*<])")
# environment.py's helpers, called with the flag whose variable they read.
FLAG_READ = re.compile(r"\benv(?:_list|_bool|_name)?\(\s*[\"'](--[a-z0-9-]+)[\"']")


def _flag_variable(flag: str) -> str:
    return "LEAPSERVE_" + flag.lstrip("-").replace("-", "_").upper()


def names_in_sources() -> dict[str, str]:
    """LEAPSERVE_* name -> the first source file naming it."""
    found: dict[str, str] = {}
    for folder in SOURCES:
        for path in sorted((REPO / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            names = [m.group(0) for m in WRITTEN_NAME.finditer(text)]
            names += [_flag_variable(m.group(1)) for m in FLAG_READ.finditer(text)]
            for name in names:
                if not name.endswith("_"):
                    found.setdefault(name, str(path.relative_to(REPO)))
    return found


def settings_table() -> dict[str, str]:
    """variable -> flag cell of the first table under TABLE_HEADING; a row may name an alias in
    parentheses (`LEAPSERVE_GRACE_PERIOD` (`LEAPSERVE_GRACE`))."""
    text = TABLE_DOC.read_text(encoding="utf-8")
    assert TABLE_HEADING in text, f"{TABLE_DOC.name} lost its heading {TABLE_HEADING!r}"
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header[:2] == ["flag", "variable"], f"the settings table's columns changed: {header}"
    table: dict[str, str] = {}
    for row in rows[2:]:
        flag, variable = (cell.strip() for cell in row.strip("|").split("|")[:2])
        for name in re.findall(r"LEAPSERVE_[A-Z0-9_]+", variable):
            table[name] = flag
    return table


def test_sources_name_settings():
    # The search itself works: names written out and names made from flags are both found.
    names = names_in_sources()
    assert "LEAPSERVE_MAX_BUNDLE_BYTES" in names  # written out (leapserve/runtime/container.py)
    assert "LEAPSERVE_TIMEOUT" in names  # made from predict's --timeout
    assert not any(name.endswith("_") for name in names)


def test_every_setting_is_in_the_table():
    table = settings_table()
    missing = {name: where for name, where in names_in_sources().items() if name not in table}
    assert not missing, ("LEAPSERVE_* settings read by the code but missing from the table in "
                         f"docs/operations.md ({TABLE_HEADING}): {missing}")


def test_every_row_names_its_flag_or_none():
    for name, flag in settings_table().items():
        assert flag == "*(none)*" or "`--" in flag or " --" in flag, (
            f"{name}: the flag column says {flag!r}; expected a flag or *(none)*")
