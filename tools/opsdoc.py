"""docs/ops.md, generated from the op registry, the parity tests' markers, the export's stage table
(bundler/spark_stages.py) and MLeap's runtime registry.

    python -m tools.opsdoc            # rewrite docs/ops.md
    python -m tools.opsdoc --check    # exit 1 if docs/ops.md is out of date

Parity tests declare the ops they prove with ``@pytest.mark.parity("op", ...)`` (or a module-level
``pytestmark``); tests/conftest.py checks while they run that each declared op's outputs really
were compared with Spark or MLeap's JVM runtime, so the table below cannot claim a test that does
not hold the op to its oracle.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

from leapserve.bundler import spark_stages
from leapserve.runtime.registry import supported_ops
from tools import mleap_registry
from tools.mleap_jvm import MLEAP_RUNTIME_VERSION

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ops.md"
TESTS = REPO / "tests"

XGBOOST_LAYOUT = """\
## XGBoost nodes (`xgboost.classifier`, `xgboost.regression`)

The layout MLeap's xgboost4j-spark writer uses, which leapserve's export writes too (for
`xgboost.spark`'s SparkXGBClassifierModel and SparkXGBRegressorModel) and its runtime reads. Scoring
needs the `xgboost` extra (`pip install 'leapserve[xgboost]'`); without it such a bundle fails to
load with a message naming the extra.

```
<name>.node/
  node.json | node.pb     # input port features; outputs raw_prediction, prediction, probability
                          # (classifier; each only when Spark's column name is set) or prediction
  model.json | model.pb   # op and attributes below
  xgboost.model           # the booster: JSON, UBJSON (what leapserve writes) or XGBoost's legacy
                          # binary format (MLeap 0.13; read by XGBoost 2.x, refused by 3.x)
```

| attribute | type | meaning |
|---|---|---|
| `num_features` | int | width of the features vector; must equal the booster's |
| `num_classes` | int | classifier only: 2 (one margin) or the booster's num_class |
| `tree_limit` | int | trees scored, 0 = all; boosting rounds = tree_limit / num_parallel_tree (xgboost4j's treeLimit). The export writes the best round of early stopping when there is one |
| `missing` | float | the value XGBoost treats as missing (default NaN; NaN is always missing) |
| `objective` | string | classifier: the booster's objective (informative; the runtime reads it from the booster) |
| `spark_api` | string | whose Spark transform the node scores as: `xgboost.spark` (leapserve's export of xgboost.spark's models) or `xgboost4j-spark` (its export of xgboost4j-spark's models; the default, so MLeap-written nodes, which lack it, score as MLeap's JVM runtime does) |

MLeap's writer adds `thresholds`, `infer_batch_size`, `use_external_memory` and
`allow_non_zero_for_missing`; they change no score leapserve computes and are not read (neither
MLeap's runtime nor xgboost.spark applies thresholds; leapserve's export refuses xgboost4j-spark
models with thresholds set). The runtime scores dense rows with XGBoost's `inplace_predict`. A
sparse vector's absent entries are 0.0 for `spark_api` `xgboost.spark` (its transform densifies
them) and missing otherwise (xgboost4j-spark and MLeap's runtime hand XGBoost the sparse entries);
there, as the runtime holds assembled vectors dense where Spark holds them sparse, the zeros of a
dense row that Spark's `compressed` stores sparse (as VectorAssembler writes it) are missing too.
Then: binary classifier raw [-m, m] and probability [1 - p, p] with p = expit(m) for
binary:logistic (XGBoost's own p for other objectives, MLeap's rule); multi-class probability =
softmax of the margins in float32 for `xgboost.spark`, XGBoost's own multi:softprob prediction
otherwise (such a node with another objective fails to load); prediction = argmax of the
probability; regression = XGBoost's prediction. All of it in XGBoost's float32, widened to doubles:
Spark's numbers, bit for bit (but xgboost4j-spark's binary 1 - p, computed in double: within 2^-25).

XGBoost trusts the boosters it reads (a bad child index crashes the process when it predicts, some
legacy binary files keep its reader busy for minutes), so leapserve has XGBoost read the file in a
child process (at most 60 s), loads only the booster XGBoost re-serialized there, and checks
every tree (children in range and reached once, splits on features of the row) before scoring:
a malformed booster fails to load with the reason, it cannot crash or stall the server.
"""


LEAPSERVE_OPS_INTRO = """\
## leapserve's own ops (`leapserve.*`)

Spark stages that no MLeap release writes or reads, written by leapserve's own Spark ops for
MLeap's serializer (`bundler/jvm/spark_ops/`) under op names in leapserve's namespace: only
leapserve reads these nodes (MLeap's runtime refuses the op name).
"""

LEAPSERVE_OPS_OUTRO = """\
Other stages MLeap has no op for are written as MLeap's own ops, which MLeap's runtime reads too
(RFormula, RobustScaler, the feature selectors, SQLTransformer arithmetic: docs/export.md, "Stages
written as their equivalents").
"""

# The node each of leapserve's ops writes (ports, attributes); which ops there are, and for which
# Spark stage, is bundler/spark_stages.py's EXPORTED table.
FM_ATTRIBUTES = ("`intercept` (double), `linear` (vector, one entry per feature), `factors` (tensor "
                 "[num_features, factor_size], column-major as Spark's matrix)")
LEAPSERVE_NODES = {
    "leapserve.fm_classifier": (
        "input port `features`; output ports `raw_prediction`, `probability`, `prediction` (each when "
        "Spark's column is set)",
        FM_ATTRIBUTES + ", `thresholds` (two doubles, when set)"),
    "leapserve.fm_regression": ("input port `features`; output port `prediction`", FM_ATTRIBUTES),
    "leapserve.fp_growth": (
        "input port `items` (string list); output port `prediction` (string list)",
        "the association rules in Spark's order, their items flattened: `antecedents` and `consequents` "
        "(string lists), the length of each rule's part in `antecedent_lengths` and `consequent_lengths` "
        "(long lists, one entry per rule)"),
    "leapserve.vector_size_hint": (
        "input port `input` and output port `output` on the same column (Spark's stage replaces its "
        "column by itself)",
        "`size` (int), `handle_invalid` (string: `error` refuses a null or another size, `skip` drops "
        "the row, `optimistic` passes everything)"),
}


def leapserve_ops() -> list[str]:
    """The section on leapserve's own ops: one row per leapserve.* op of the exported stages."""
    stages = {name: stage.name.rsplit(".", 1)[-1] for stage in spark_stages.EXPORTED for name in stage.ops
              if name.startswith("leapserve.")}
    lines = [LEAPSERVE_OPS_INTRO, "| op | Spark stage | node | attributes |", "|---|---|---|---|"]
    for name, stage in sorted(stages.items()):
        if name not in LEAPSERVE_NODES:
            raise RuntimeError(f"tools/opsdoc.py: LEAPSERVE_NODES does not describe {name}'s node")
        node, attributes = LEAPSERVE_NODES[name]
        lines.append(f"| `{name}` | `{stage}` | {node} | {attributes} |")
    return lines + ["", LEAPSERVE_OPS_OUTRO.rstrip("\n")]


def _marker_ops(node) -> list[str]:
    """Op names of a `pytest.mark.parity(...)` expression, else []."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "parity"
            and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "mark"):
        return [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    return []


def parity_tests() -> dict[str, list[str]]:
    """op -> test ids (file::name) that declare it with the parity marker."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        rel = path.relative_to(REPO).as_posix()
        module_ops: list[str] = []
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in stmt.targets):
                values = stmt.value.elts if isinstance(stmt.value, (ast.List, ast.Tuple)) else [stmt.value]
                for v in values:
                    module_ops += _marker_ops(v)
        for stmt in ast.walk(tree):
            if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.name.startswith(("test", "Test")):
                ops = list(module_ops)
                for deco in stmt.decorator_list:
                    ops += _marker_ops(deco)
                for op in dict.fromkeys(ops):
                    found[op].append(f"{rel}::{stmt.name}")
    return dict(found)


def render() -> str:
    ops = supported_ops()
    tests = parity_tests()
    lines = [
        "# Ops",
        "",
        "Every op leapserve's native runtime reads, generated from the op registry",
        "(`leapserve/runtime/registry.py`) and the parity tests' `@pytest.mark.parity` markers by",
        "`python -m tools.opsdoc`; a test fails when this file is out of date. A parity test",
        "fits the op in PySpark (or, where MLeap 0.16 cannot write it, builds the bundle by hand from",
        "the fitted Spark model), exports it, scores it with the runtime and compares with Spark's",
        "own `transform` (see `tests/support/parity.py`). MLeap's extension ops (`math_unary`, `math_binary`,",
        "`string_map`) have no Spark model; their tests compare, bit for bit (sin, cos and tan within",
        "1 ulp), with MLeap's JVM runtime on bundles written by hand in both formats, NaN, infinities",
        "and -0.0 included (floor, ceil and round, newer than that runtime, with the JVM's `java.lang.Math`).",
        "A parity test fails unless it compared the ops it names. The scikit-learn-only ops (`sklearn_*`) have",
        "no Spark model either: their tests score bundles written by MLeap's scikit-learn package with",
        "MLeap's JVM runtime, the official reader (`tests/support/sklearn_mleap.py`).",
        "",
        f"{len(ops)} ops supported.",
        "",
        "| op | family | module | what it computes | parity tests |",
        "|---|---|---|---|---|",
    ]
    for name, info in ops.items():
        module = info.module.replace("leapserve.runtime.ops.", "")
        cited = tests.get(name, [])
        if name == "pipeline":  # every exported model is a pipeline; the plan flattens them
            shown = "every parity test (nested: `tests/runtime/test_loading.py`)"
        else:
            shown = "<br>".join(f"`{t}`" for t in cited) if cited else "**none**"
        lines.append(f"| `{name}` | {info.family} | `{module}` | {info.summary} | {shown} |")
    lines += ["", XGBOOST_LAYOUT.rstrip("\n"), "", *leapserve_ops()]
    registry = mleap_registry.registry_ops()
    refused = {name: op_class for name, op_class in registry.items() if name not in ops}
    lines += ["", "## MLeap runtime ops leapserve does not read", "",
              f"MLeap's JVM runtime {MLEAP_RUNTIME_VERSION} registers {len(registry)} ops (the lists in its jars'"
              " `reference.conf`, read",
              "by `tools/mleap_registry.py` from the jars in leapserve's cache; a test fails when one is neither read",
              f"by leapserve nor listed here with its reason). leapserve reads {len(registry) - len(refused)} of them;"
              " a bundle holding",
              f"one of these {len(refused)} fails to load, naming the op, the node and its path.", "",
              "| op | MLeap's Op class | why |", "|---|---|---|"]
    for name, op_class in refused.items():
        why = mleap_registry.REFUSED.get(name, "**no reason recorded**")
        lines.append(f"| `{name}` | `{op_class.removeprefix('ml.combust.mleap.bundle.ops.')}` | {why} |")
    lines += ["", "MLeap modules outside that registry (their jars are not in the Maven cache) are refused too:", ""]
    for name, why in sorted(mleap_registry.REFUSED_MODULES.items()):
        lines.append(f"- `{name}`: {why}.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not DOC.exists() or DOC.read_text() != text:
            print("docs/ops.md is out of date: run `python -m tools.opsdoc`", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
