"""Spark stages MLeap's serializer has no op for, rewritten as stages it writes, with the same transform.

    stages, notes = writable_stages(pipeline_stages(model), dataset)

The replacements compute what the original computes (the export's verification and the parity
tests compare the bundle with the original's own ``transform``) and are MLeap's own ops, so MLeap's
JVM runtime reads these bundles too:

* RFormulaModel: the stages of its fitted pipeline (string indexers, interactions, one-hot
  encoder, vector assembler; the last two, which Spark names after the RFormula, renamed
  <uid>_<class>), without the two that only rename metadata or drop its temporary columns
  (VectorAttributeRewriter, ColumnPruner), and without the label's: Spark's transform indexes
  (string) or casts (number) the label only when the label column is there, which a served
  request does not send. The bundle never reads the label; its outputs are the features column
  plus the temporary columns Spark prunes.
* RobustScalerModel: a StandardScalerModel with mean = median and std = range; both models call
  StandardScalerModel.getTransformFunc with shift = median / mean and scale = 1 / range / std
  (0 where that is 0), so centering and scaling map onto withMean and withStd.
* VarianceThresholdSelectorModel and UnivariateFeatureSelectorModel: a ChiSqSelectorModel with the
  same selected features; all three transform through Spark's SelectorModel.transform.
* SQLTransformer, for the statements that are arithmetic on double columns (below): one
  ColumnMath step per operation (leapserve's Spark stage, bundler/jvm/spark_ops), which
  leapserve's Spark ops write as MLeap's math_unary and math_binary nodes, whose java.lang.Math
  is what Spark SQL computes for these operations (but for nulls); other statements are refused,
  naming the part that does not map.
"""

from __future__ import annotations

from .errors import StageNotSerializable

_FEATURE = "org.apache.spark.ml.feature."
RFORMULA = _FEATURE + "RFormulaModel"
ROBUST_SCALER = _FEATURE + "RobustScalerModel"
SQL_TRANSFORMER = _FEATURE + "SQLTransformer"
SELECTORS = (_FEATURE + "VarianceThresholdSelectorModel", _FEATURE + "UnivariateFeatureSelectorModel")
# RFormula's stages that change only column metadata or drop its temporary columns.
_METADATA_ONLY = (_FEATURE + "VectorAttributeRewriter", _FEATURE + "ColumnPruner")


def _schema_before(stages, dataset):
    """The schema a stage reads: ``dataset``'s, transformed by the stages before it (lazily)."""
    from pyspark.ml import PipelineModel

    if dataset is None:
        raise SqlNotMapped("no data to read the statement's column types from")
    return PipelineModel(list(stages)).transform(dataset).schema if stages else dataset.schema


def _class(java_obj) -> str:
    return java_obj.getClass().getName()


def _wrap(java_obj):
    """The pyspark wrapper of a JVM stage, its params read back from the JVM."""
    from pyspark.ml.wrapper import JavaParams

    return JavaParams._from_java(java_obj)


def _set(java_obj, name: str, value) -> None:
    java_obj.set(java_obj.getParam(name), value)


def _rformula_stages(stage) -> tuple[list, str]:
    java = stage._java_obj
    label = java.resolvedFormula().label()
    label_col = java.getLabelCol()
    fitted = java.pipelineModel().stages()
    kept = []
    for i in range(len(fitted)):
        inner = fitted[i]
        cls = _class(inner)
        if cls in _METADATA_ONLY:
            continue
        if (cls == _FEATURE + "StringIndexerModel" and label and inner.isDefined(inner.getParam("inputCol"))
                and inner.getInputCol() == label and inner.getOutputCol() == label_col):
            continue  # the label's indexer
        if inner.uid() == stage.uid:
            # RFormula names its one-hot encoder and assembler after itself; bundle nodes need apart names
            inner = _renamed(stage, inner)
        kept.append(_wrap(inner))
    note = (f"{stage.uid}: RFormulaModel written as its {len(kept)} fitted stages "
            f"({', '.join(st.uid for st in kept)}); the label {label!r} is not read"
            if label else f"{stage.uid}: RFormulaModel written as its {len(kept)} fitted stages "
                          f"({', '.join(st.uid for st in kept)})")
    return kept, note


def _renamed(stage, inner):
    """A copy of RFormula's one-hot encoder or assembler under the uid <RFormula uid>_<its class>."""
    jvm, cls = _jvm(), _class(inner)
    name = cls.rsplit(".", 1)[-1]
    uid = f"{stage.uid}_{name}"
    if cls == _FEATURE + "VectorAssembler":
        copy = jvm.org.apache.spark.ml.feature.VectorAssembler(uid)
    elif cls == _FEATURE + "OneHotEncoderModel":
        copy = jvm.org.apache.spark.ml.feature.OneHotEncoderModel(uid, inner.categorySizes())
    else:
        raise StageNotSerializable(stage.uid, RFORMULA, f"its fitted stage {name} shares its uid and cannot be renamed")
    return inner.copyValues(copy, jvm.org.apache.spark.ml.param.ParamMap())


def _robust_scaler(stage):
    java = stage._java_obj
    scaler = _jvm().org.apache.spark.ml.feature.StandardScalerModel(stage.uid, java.range(), java.median())
    _set(scaler, "withMean", bool(java.getWithCentering()))
    _set(scaler, "withStd", bool(java.getWithScaling()))
    scaler.setInputCol(java.getInputCol())
    scaler.setOutputCol(java.getOutputCol())
    return _wrap(scaler), f"{stage.uid}: RobustScalerModel written as standard_scaler (mean = median, std = range)"


def _selector(stage):
    java = stage._java_obj
    selector = _jvm().org.apache.spark.ml.feature.ChiSqSelectorModel(stage.uid, java.selectedFeatures())
    selector.setFeaturesCol(java.getFeaturesCol())
    selector.setOutputCol(java.getOutputCol())
    name = _class(java).rsplit(".", 1)[-1]
    return _wrap(selector), f"{stage.uid}: {name} written as chi_sq_selector (the same selected features)"


# --- SQLTransformer ------------------------------------------------------------------------------
# The statement is parsed by Spark's own parser (parsePlan, not analysed: the columns are looked
# up here in the schema the stage sees). What maps: SELECT over __THIS__ of `*`, columns, and
# aliased arithmetic on double columns and numeric literals: + - * and unary minus, and the
# functions whose Spark SQL semantics are java.lang.Math's, as MLeap's math ops compute them.
# Each operation becomes one math_unary or math_binary node; a nested one writes a temporary
# column <uid>__<n>. Nulls differ: Spark SQL gives null for a null operand, the math ops refuse it.

SQL_BINARY = {"Add": "add", "Subtract": "sub", "Multiply": "mul"}
SQL_UNARY_FUNCTIONS = {"sqrt": "sqrt", "exp": "exp", "sin": "sin", "cos": "cos", "tan": "tan", "abs": "abs"}
SQL_BINARY_FUNCTIONS = {"pow": "pow", "power": "pow"}
# Why the usual suspects do not map (Spark SQL's semantics differ from the math op's).
SQL_REFUSED = {
    "Divide": "division (Spark SQL gives null for a zero divisor, math_binary Infinity or NaN)",
    "Remainder": "% (Spark SQL gives null for a zero divisor)",
    "Pmod": "pmod",
    "log": "log (Spark SQL gives null for x <= 0, math_unary -Infinity or NaN)",
    "ln": "ln (Spark SQL gives null for x <= 0, math_unary -Infinity or NaN)",
    "floor": "floor (a bigint in Spark SQL)", "ceil": "ceil (a bigint in Spark SQL)",
    "round": "round (Spark SQL rounds half up in decimal)",
    "greatest": "greatest (Spark SQL skips nulls and ranks NaN highest)",
    "least": "least (Spark SQL skips nulls and ranks NaN highest)",
}
_PLAN_PARTS = {"Filter": "a WHERE clause", "Aggregate": "GROUP BY or an aggregate", "Sort": "ORDER BY",
               "GlobalLimit": "LIMIT", "LocalLimit": "LIMIT", "Distinct": "DISTINCT", "Join": "a join",
               "Union": "UNION", "UnresolvedWith": "a WITH clause", "SubqueryAlias": "a subquery",
               "Window": "a window", "Generate": "a generator (LATERAL VIEW)"}
_NUMERIC_LITERALS = ("int", "bigint", "smallint", "tinyint", "double", "float")


class SqlNotMapped(Exception):
    """A part of a SQLTransformer statement that has no math op (the message names it)."""


def _simple(obj) -> str:
    return obj.getClass().getSimpleName()


def _seq(scala_seq) -> list:
    return [scala_seq.apply(i) for i in range(scala_seq.size())]


class _SqlSteps:
    """The math nodes of one statement: (kind, operation, input_a, input_b, da, db, output)."""

    def __init__(self, uid: str, schema):
        self.uid = uid
        self.types = {f.name: f.dataType.simpleString() for f in schema.fields}
        self.steps: list[tuple] = []
        self.temporary = 0  # temporary columns named so far

    def column(self, attribute) -> str:
        parts = [str(p) for p in _seq(attribute.nameParts())]
        name = ".".join(parts)
        found = [c for c in self.types if c.lower() == name.lower()]  # Spark's names ignore case
        if len(parts) != 1 or len(found) != 1:
            raise SqlNotMapped(f"column {name!r} (not one column of the data the stage reads)")
        if self.types[found[0]] != "double":
            raise SqlNotMapped(f"column {found[0]!r} of type {self.types[found[0]]} (only double columns map "
                               f"onto math ops; Spark SQL keeps other types' arithmetic in their type)")
        return found[0]

    def operand(self, expr):
        """(column, None) or (None, constant) for an operand, computing nested operations."""
        if _simple(expr) == "Literal":
            kind = expr.dataType().simpleString()
            if expr.value() is None or not (kind in _NUMERIC_LITERALS or kind.startswith("decimal")):
                raise SqlNotMapped(f"literal {expr.sql()} (only numeric constants map)")
            return None, float(str(expr.value()))
        if _simple(expr) == "UnresolvedAttribute":
            return self.column(expr), None
        self.temporary += 1
        return self.compute(expr, f"{self.uid}__{self.temporary - 1}"), None

    def compute(self, expr, output: str) -> str:
        """Write ``expr`` into the column ``output`` (one step per operation); returns ``output``."""
        kind = _simple(expr)
        if kind in SQL_BINARY or kind == "UnresolvedFunction" and self._function(expr) in SQL_BINARY_FUNCTIONS:
            left, right = (expr.left(), expr.right()) if kind in SQL_BINARY else _seq(expr.arguments())
            operation = SQL_BINARY.get(kind) or SQL_BINARY_FUNCTIONS[self._function(expr)]
            (a, da), (b, db) = self.operand(left), self.operand(right)
            if a is None and b is None:
                raise SqlNotMapped(f"{expr.sql()} (a constant; compute it in the statement's stead)")
            self.steps.append(("binary", operation, a, b, da, db, output))
        elif kind == "UnresolvedFunction" and self._function(expr) in SQL_UNARY_FUNCTIONS:
            (a, _), = [self.operand(arg) for arg in _seq(expr.arguments())] or [(None, None)]
            if a is None:
                raise SqlNotMapped(f"{expr.sql()} (a constant; compute it in the statement's stead)")
            self.steps.append(("unary", SQL_UNARY_FUNCTIONS[self._function(expr)], a, None, None, None, output))
        elif kind == "UnaryMinus":
            a, _ = self.operand(expr.child())
            if a is None:
                raise SqlNotMapped(f"{expr.sql()} (a constant)")
            self.steps.append(("binary", "mul", a, None, None, -1.0, output))  # exact, -0.0 and NaN included
        elif kind == "UnresolvedAttribute":  # a renamed column: times 1.0 is the identity on doubles
            self.steps.append(("binary", "mul", self.column(expr), None, None, 1.0, output))
        else:
            name = self._function(expr) if kind == "UnresolvedFunction" else kind
            raise SqlNotMapped(SQL_REFUSED.get(name) or (f"function {name}" if kind == "UnresolvedFunction"
                                                         else f"{expr.sql()} ({kind})"))
        return output

    @staticmethod
    def _function(expr) -> str:
        parts = _seq(expr.nameParts())
        if expr.isDistinct() or not expr.filter().isEmpty():
            raise SqlNotMapped(f"{expr.sql()} (DISTINCT or FILTER)")
        return str(parts[-1]).lower()


def sql_steps(stage, schema) -> list[tuple]:
    """The math steps of a SQLTransformer's statement over data of ``schema``; raises SqlNotMapped."""
    spark = _spark()
    statement = stage.getStatement()
    try:
        plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(statement)
    except Exception as e:
        raise SqlNotMapped(f"the statement does not parse: {str(e).splitlines()[0]}") from None
    if _simple(plan) != "Project":
        raise SqlNotMapped(_PLAN_PARTS.get(_simple(plan), f"a {_simple(plan)} plan"))
    source = plan.child()
    if _simple(source) != "UnresolvedRelation":
        raise SqlNotMapped(_PLAN_PARTS.get(_simple(source), f"a {_simple(source)} plan"))
    if [str(p) for p in _seq(source.multipartIdentifier())] != ["__THIS__"]:
        raise SqlNotMapped(f"reading {source.tableName()} (only __THIS__)")
    steps = _SqlSteps(stage.uid, schema)
    produced: list[str] = []
    star = False
    for item in _seq(plan.projectList()):
        kind = _simple(item)
        if kind == "UnresolvedStar" and item.target().isEmpty():
            star = True
        elif kind == "UnresolvedAttribute":
            steps.column(item)  # selected as it is: nothing to compute
        elif kind == "Alias":
            name = item.name()
            if name.lower() in {c.lower() for c in produced}:
                raise SqlNotMapped(f"two columns named {name!r}")
            produced.append(name)
            steps.compute(item.child(), name)
        else:
            raise SqlNotMapped(f"{item.sql()} (a selected expression needs a name: expression AS name)")
    clash = [c for c in produced if c.lower() in {t.lower() for t in steps.types}] if star else []
    if clash:
        raise SqlNotMapped(f"column {clash[0]!r}, which * already selects")
    if not steps.steps:
        raise SqlNotMapped("nothing to compute (a selection only)")
    return steps.steps


def _sql_transformer(stage, schema) -> tuple[list, str]:
    from pyspark.ml.wrapper import JavaTransformer

    try:
        steps = sql_steps(stage, schema)
    except SqlNotMapped as e:
        raise StageNotSerializable(stage.uid, _class(stage._java_obj),
                                   f"its statement {stage.getStatement()!r} has no equivalent in leapserve's "
                                   f"ops: {e}. What maps is SELECT over __THIS__ of *, columns, and "
                                   f"double arithmetic (+, -, *, unary -, sqrt, exp, sin, cos, tan, abs, pow) "
                                   f"named with AS") from None
    ops = _jvm().dev.leapserve.spark.ops.ColumnMathOp
    out = []
    for k, (kind, operation, a, b, da, db, output) in enumerate(steps):
        uid = f"{stage.uid}_{k}"
        java = (getattr(ops, "Unary")(uid, operation, a, output) if kind == "unary"
                else getattr(ops, "Binary")(uid, operation, a, b, da, db, output))
        wrapped = JavaTransformer(java)
        wrapped.uid = uid
        out.append(wrapped)
    return out, (f"{stage.uid}: SQLTransformer written as {len(out)} math nodes "
                 f"({', '.join(s[1] + ' -> ' + s[6] for s in steps)})")


def _spark():
    from .session import spark_session

    return spark_session()


def _jvm():
    from .session import spark_session

    return spark_session()._jvm


def writable_stages(stages, dataset=None) -> tuple[list, list[str]]:
    """``stages`` with each stage listed above replaced by what MLeap writes, and a note per
    replacement (what the export record's ``fixups`` reports). ``dataset``: the rows given to the
    first stage, whose schema a SQLTransformer's statement is read against."""
    out, notes = [], []
    for i, stage in enumerate(stages):
        java = getattr(stage, "_java_obj", None)
        cls = _class(java) if java is not None else ""
        try:
            if cls == RFORMULA:
                kept, note = _rformula_stages(stage)
                out.extend(writable_stages(kept)[0])
            elif cls == ROBUST_SCALER:
                replaced, note = _robust_scaler(stage)
                out.append(replaced)
            elif cls == SQL_TRANSFORMER:
                replaced, note = _sql_transformer(stage, _schema_before(stages[:i], dataset))
                out.extend(replaced)
            elif cls in SELECTORS:
                replaced, note = _selector(stage)
                out.append(replaced)
            else:
                out.append(stage)
                continue
        except StageNotSerializable:
            raise
        except Exception as e:  # a Spark release whose internals differ from 3.5's
            raise StageNotSerializable(stage.uid, cls, f"could not rewrite it as stages MLeap writes: {e}") from None
        notes.append(note)
    return out, notes
