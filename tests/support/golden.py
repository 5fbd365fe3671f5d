"""The golden set: bundles exported by MLeap, the records the parity tests scored with them and
Spark's answers, recorded once from the parity tests, so that the runtime can be held to Spark
where Spark does not run (other Python versions; pyspark 3.5 supports Python 3.11 at most).

Recording (needs Spark): ``python -m tools.golden`` runs the parity tests with
LEAPSERVE_GOLDEN_RECORD set; each call of the parity harness (``assert_parity``,
``check_against_spark``) then writes a case: ``<case>/bundle.zip`` and ``<case>/case.json``
(the test, the outputs compared, column renames, the columns Spark's schema holds discrete, and
per row its id, input record and Spark's answer: an output row, "error" or "skipped").

Replaying (runtime only): ``check_case`` holds a case to Spark's answers as the parity harness
does; ``outputs`` gives the runtime's own answers in a canonical JSON text (doubles written
exactly), so that two interpreters can be compared bit for bit:

    python -m tests.support.golden DIR      # prints {case: canonical outputs} for every case
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
RECORD_ENV = "LEAPSERVE_GOLDEN_RECORD"


# --- values as JSON ------------------------------------------------------------------------------
# Doubles go through Python's json, which writes the shortest text that reads back to the same
# double (and NaN, Infinity as tokens); vectors are tagged.

def encode(v):
    from leapserve.runtime.vectors import DenseVector, SparseVector

    if isinstance(v, SparseVector):
        return {"sparse": [v.size, list(v.indices), list(v.values)]}
    if isinstance(v, (DenseVector, np.ndarray)):
        return {"dense": [float(x) for x in v.tolist()]}
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [encode(x) for x in v]
    if isinstance(v, dict):
        return {k: encode(x) for k, x in v.items()}
    return v


def decode(v):
    from leapserve.runtime.vectors import SparseVector

    if isinstance(v, dict):
        if set(v) == {"sparse"}:
            size, indices, values = v["sparse"]
            return SparseVector(size, indices, values)
        if set(v) == {"dense"}:
            return list(v["dense"])
        return {k: decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode(x) for x in v]
    return v


# --- recording -----------------------------------------------------------------------------------

_recorded: dict[str, int] = {}


def record(pipeline, records, expected, *, outputs=None, columns=None) -> None:
    """Write one case, when LEAPSERVE_GOLDEN_RECORD names a folder (else nothing)."""
    root = os.environ.get(RECORD_ENV)
    if not root:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "unknown").rsplit(" ", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", test.split("::", 1)[-1]).strip("-")[:80]
    module = Path(test.split("::", 1)[0]).stem
    n = _recorded[test] = _recorded.get(test, 0) + 1
    folder = Path(root) / f"{module}--{stem}--{n}"
    folder.mkdir(parents=True)
    _copy_bundle(Path(pipeline.source), folder / "bundle.zip")
    case = {
        "test": test,
        "outputs": list(outputs or pipeline.outputs),
        "columns": columns or {},
        "rows": [[rid, encode(record), encode(expected[rid])] for rid, record in records],
    }
    if hasattr(expected, "discrete"):  # Spark's answers (parity.SparkOutcomes): what its schema says
        case["discrete"] = sorted(expected.discrete)
    (folder / "case.json").write_text(json.dumps(case, indent=None, separators=(",", ":")) + "\n")


def _copy_bundle(source: Path, target: Path) -> None:
    if source.is_file():
        shutil.copyfile(source, target)
        return
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:  # a directory bundle, zipped
        for f in sorted(source.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(source).as_posix())


# --- replaying -----------------------------------------------------------------------------------

def cases(root: Path = GOLDEN) -> list[Path]:
    return sorted(p for p in root.glob("*") if (p / "case.json").is_file())


def load_case(folder: Path):
    """(pipeline, records, expected, outputs, columns) of a recorded case."""
    from leapserve.runtime import load_bundle

    case = json.loads((folder / "case.json").read_text())
    records = [(rid, decode(record)) for rid, record, _ in case["rows"]]
    expected = {rid: decode(answer) for rid, _, answer in case["rows"]}
    return load_bundle(folder / "bundle.zip"), records, expected, case["outputs"], case["columns"]


def check_case(folder: Path):
    """The runtime answers the case's records as Spark did (tests.support.parity.check_rows): the
    columns Spark's schema held discrete exactly. Cases recorded before the set kept those fall
    back on the runtime's own declaration (Pipeline.discrete_outputs), which the parity test that
    recorded them held to Spark's."""
    from tests.support.parity import check_rows

    pipeline, records, expected, outputs, columns = load_case(folder)
    case = json.loads((folder / "case.json").read_text())
    discrete = case["discrete"] if "discrete" in case else \
        {columns.get(c, c) for c in pipeline.discrete_outputs}
    return check_rows(pipeline, records, expected, outputs=outputs, columns=columns, tag=f"{folder.name}: ",
                      discrete=discrete)


def outputs(folder: Path) -> str:
    """The runtime's answers to a case, row path then batch path, as canonical JSON text."""
    from leapserve.runtime import RowSkipped, ScoringError

    from tests.support.parity import row_value

    pipeline, records, _, wanted, _ = load_case(folder)
    rows, scored = [], []
    for _, record in records:
        try:
            rows.append(pipeline.transform(record, wanted))
            scored.append(record)
        except RowSkipped as e:
            rows.append(f"skipped: {e}")
            scored.append(record)
        except ScoringError as e:
            rows.append(f"error: {e}")
    batch = {}
    if scored:
        result = pipeline.transform_batch({c: [r.get(c) for r in scored] for c in pipeline.inputs}, wanted)
        batch = {c: [row_value(result[c], i) for i in range(len(scored))] for c in wanted}
        batch["skipped"] = result.skipped.tolist()
    return json.dumps({"rows": encode(rows), "batch": encode(batch)}, sort_keys=True)


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else GOLDEN
    json.dump({p.name: outputs(p) for p in cases(root)}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
