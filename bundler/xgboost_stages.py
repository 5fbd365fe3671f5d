"""XGBoost's Spark models in an export, written as MLeap's XGBoost ops: those of its PySpark API
(``xgboost.spark``) and xgboost4j-spark's Scala models (reached through their JVM objects, see
bundler/xgboost4j.py).

SparkXGBClassifierModel and SparkXGBRegressorModel live in Python only, so MLeap's serializer
(which walks JVM stages) cannot see them. The export hands MLeap the pipeline without them, then
adds one node per XGBoost model to the root pipeline, at the model's place among the stages, in the
layout MLeap's xgboost4j-spark writer uses (docs/ops.md): the booster in ``xgboost.model`` (UBJSON,
which XGBoost reads from 1.6 on; MLeap's JVM runtime has xgboost4j 2.0, untried here because the
tests' MLeap harness has no XGBoost runtime), attributes ``num_features``,
``num_classes`` (classifier), ``tree_limit``, ``missing``, ``objective`` (classifier) and
``spark_api`` (whose transform the node scores as: "xgboost.spark" or "xgboost4j-spark").
MLeap 0.16's serializer has no op for xgboost4j-spark's models either (that is mleap-xgboost-spark,
built for other Spark and XGBoost versions), so they are written the same way, their booster taken
from the JVM model.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from functools import partial
from pathlib import Path

from leapserve.runtime.ops.xgboost_booster import BOOSTER_FILE, XGBOOST4J_SPARK, XGBOOST_SPARK, trees_per_round

from .compare import Tolerance
from .errors import StageNotSerializable

# the attribute naming whose transform the node scores as (sparse vectors, multi-class probability);
# the runtime reads it (leapserve/runtime/ops/xgboost_booster.py)
SPARK_API = "spark_api"
_CLASSES = {"SparkXGBClassifierModel": "xgboost.classifier", "SparkXGBRegressorModel": "xgboost.regression"}
XGBOOST4J_CLASSES = {
    "ml.dmlc.xgboost4j.scala.spark.XGBoostClassificationModel": "xgboost.classifier",
    "ml.dmlc.xgboost4j.scala.spark.XGBoostRegressionModel": "xgboost.regression",
}


def xgboost4j_class(stage) -> str | None:
    """The Scala class of an xgboost4j-spark model's JVM object, or None for any other stage."""
    java = getattr(stage, "_java_obj", None)
    if java is None or not hasattr(java, "getClass"):
        return None
    name = java.getClass().getName()
    return name if name in XGBOOST4J_CLASSES else None


def xgboost_op(stage) -> str | None:
    """The MLeap op an XGBoost model (xgboost.spark or xgboost4j-spark) is written as, or None for
    any other stage."""
    jvm_class = xgboost4j_class(stage)
    if jvm_class is not None:
        return XGBOOST4J_CLASSES[jvm_class]
    cls = type(stage)
    if not cls.__module__.startswith("xgboost.spark"):
        return None
    for klass in cls.__mro__:
        if klass.__name__ in _CLASSES and klass.__module__.startswith("xgboost.spark"):
            return _CLASSES[klass.__name__]
    return None


def _name(stage) -> str:
    return xgboost4j_class(stage) or f"{type(stage).__module__}.{type(stage).__name__}"


def _param(stage, name: str):
    return stage.getOrDefault(name) if stage.hasParam(name) and stage.isDefined(stage.getParam(name)) else None


def _java_param(java, name: str):
    """A JVM stage's param value (set or default), or None when it has no such param or value."""
    if not java.hasParam(name):
        return None
    param = java.getParam(name)
    return java.getOrDefault(param) if java.isDefined(param) else None


def _check_xgboost4j_stage(stage) -> str | None:
    java = stage._java_obj
    if list(_java_param(java, "featuresCols") or []):
        return "featuresCols (one column per feature) has no MLeap port; assemble the features into featuresCol"
    for name, what in (("baseMarginCol", "baseMarginCol has no MLeap port"),
                       ("leafPredictionCol", "leafPredictionCol (leaf indices) is not written"),
                       ("contribPredictionCol", "contribPredictionCol (SHAP contributions) is not written")):
        if _java_param(java, name):
            return what
    # Spark's probability2prediction applies thresholds to the probability in xgboost4j-spark's
    # transform; the ops have no such step (MLeap's runtime and xgboost.spark apply none)
    if _java_param(java, "thresholds") is not None:
        return "thresholds (applied by Spark to pick the prediction) are not applied by the ops; unset them"
    # its transform special-cases multi:softmax, whose booster predicts a class index, not k probabilities
    if _java_param(java, "objective") == "multi:softmax":
        return "objective multi:softmax is not written (its booster gives no probabilities); train with multi:softprob"
    return None


def check_xgboost_stage(stage) -> None:
    """Refuse, naming the stage, what the ops cannot express."""
    why = None
    if xgboost4j_class(stage) is not None:
        why = _check_xgboost4j_stage(stage)
    elif _param(stage, "features_cols"):
        why = "features_cols (one column per feature) has no MLeap port; assemble the features into featuresCol"
    elif _param(stage, "base_margin_col"):
        why = "base_margin_col has no MLeap port"
    elif _param(stage, "pred_contrib_col"):
        why = "pred_contrib_col (SHAP contributions) is not written"
    elif _param(stage, "enable_sparse_data_optim"):
        why = ("enable_sparse_data_optim treats a sparse vector's absent entries as missing; the nodes "
               "of xgboost.spark's models read them as 0.0, as its transform does without it")
    elif (_param(stage, "iteration_range") or (0, 0))[0] != 0:
        why = "an iteration_range not starting at 0 has no MLeap attribute (tree_limit counts from 0)"
    if why:
        raise StageNotSerializable(stage.uid, _name(stage), why)


def _tree_limit(stage) -> int:
    """What xgboost.spark's transform scores with, as MLeap's tree_limit: trees, not rounds."""
    sk = stage._xgb_sklearn_model
    end = (_param(stage, "iteration_range") or (0, 0))[1]
    if not end:
        try:  # XGBModel.predict scores up to the best round of early stopping, when there is one
            end = sk.best_iteration + 1
        except AttributeError:
            end = 0
    if not end:
        return 0
    return end * trees_per_round(json.loads(stage.get_booster().save_config()))


# xgboost4j-spark 2.1's binary classifier gives probability [1 - p, p] with 1 - p computed in double
# from the float32 p; the runtime computes it in float32 as xgboost.spark does. The two differ by the
# float32 rounding of 1 - p, at most half a float32 ulp of a number below 1: 2^-25.
XGBOOST4J_PROBABILITY_TOLERANCE = Tolerance(absolute=2.0 ** -25, reason="xgboost4j-spark computes 1 - p in double")


def verification_tolerances(stages) -> dict[str, Tolerance]:
    """Columns the export's verification compares more loosely than compare's rule, with their
    tolerance: the probability column of xgboost4j-spark's binary classifiers."""
    found = {}
    for st in stages:
        if xgboost_op(st) == "xgboost.classifier" and xgboost4j_class(st) is not None \
                and st._java_obj.numClasses() == 2:
            column = _java_param(st._java_obj, "probabilityCol")
            if column:
                found[column] = XGBOOST4J_PROBABILITY_TOLERANCE
    return found


def xgboost_node(stage, op: str) -> dict:
    """The node's sockets, attributes (JSON form) and booster bytes: read from the JVM object of an
    xgboost4j-spark model, from the Python stage of an xgboost.spark one."""
    classifier = op == "xgboost.classifier"
    if xgboost4j_class(stage) is not None:
        import xgboost

        java = stage._java_obj
        param = partial(_java_param, java)
        data = bytes(java.nativeBooster().toByteArray("ubj"))
        booster = xgboost.Booster(model_file=bytearray(data))
        num_classes = int(java.numClasses()) if classifier else None
        # xgboost4j-spark's transform hands treeLimit to the booster's predict as a number of trees,
        # which is what MLeap's tree_limit is (0: all of them)
        tree_limit = int(param("treeLimit") or 0)
        spark_api = XGBOOST4J_SPARK
    else:
        param = partial(_param, stage)
        booster = stage.get_booster()
        data = bytes(booster.save_raw("ubj"))
        num_classes = int(stage._xgb_sklearn_model.n_classes_) if classifier else None
        tree_limit = _tree_limit(stage)
        spark_api = XGBOOST_SPARK
    attrs = {"num_features": {"int": int(booster.num_features())}}
    if classifier:
        attrs["num_classes"] = {"int": num_classes}
        ports = (("raw_prediction", "rawPredictionCol"), ("prediction", "predictionCol"),
                 ("probability", "probabilityCol"))
    else:
        ports = (("prediction", "predictionCol"),)
    outputs = [{"port": port, "name": column} for port, name in ports
               if (column := param(name))]  # Spark's transform writes no column for an empty name
    attrs["tree_limit"] = {"int": tree_limit}
    missing = param("missing")
    attrs["missing"] = {"float": math.nan if missing is None else float(missing)}
    attrs[SPARK_API] = {"string": spark_api}
    if classifier:
        attrs["objective"] = {"string": json.loads(booster.save_config())["learner"]["objective"]["name"]}
    return {"name": stage.uid, "op": op, "inputs": [{"port": "features", "name": param("featuresCol")}],
            "outputs": outputs, "attributes": attrs, "booster": data}


# --- writing the nodes into the bundle MLeap wrote ------------------------------------------

def _json_scalar(form: dict) -> dict:
    """MLeap's JSON form: protobuf defaults (0, false, "") are omitted, NaN is null."""
    (key, v), = form.items()
    if isinstance(v, float) and math.isnan(v):
        return {key: None}
    return {} if v in (0, "", False) else {key: v}


def _pb_model(node: dict) -> bytes:
    from leapserve.bundleml import bundle_pb2 as pb

    msg = pb.Model(op=node["op"])
    for name, form in node["attributes"].items():
        (key, v), = form.items()
        setattr(msg.attributes.list[name].s, {"int": "i", "float": "f", "string": "s"}[key], v)
    return msg.SerializeToString()


def _pb_node(node: dict) -> bytes:
    from leapserve.bundleml import bundle_pb2 as pb

    msg = pb.Node(name=node["name"])
    msg.shape.inputs.extend(pb.Socket(**s) for s in node["inputs"])
    msg.shape.outputs.extend(pb.Socket(**s) for s in node["outputs"])
    return msg.SerializeToString()


def node_files(node: dict, fmt: str) -> dict[str, bytes]:
    """The files of the node's folder, by name."""
    if fmt == "json":
        model = {"op": node["op"], "attributes": {k: _json_scalar(v) for k, v in node["attributes"].items()}}
        shape = {"name": node["name"], "shape": {"inputs": node["inputs"], "outputs": node["outputs"]}}
        files = {"model.json": json.dumps(model, indent=2).encode(), "node.json": json.dumps(shape, indent=2).encode()}
    else:
        files = {"model.pb": _pb_model(node), "node.pb": _pb_node(node)}
    files[BOOSTER_FILE] = node["booster"]
    return files


def _with_nodes(root_model: bytes, fmt: str, names: list[str]) -> bytes:
    """The root pipeline's model file with its ``nodes`` list replaced."""
    if fmt == "json":
        doc = json.loads(root_model)
        doc.setdefault("attributes", {})["nodes"] = {"type": "list", "string": names}
        return json.dumps(doc, indent=2).encode()
    from leapserve.bundleml import bundle_pb2 as pb

    msg = pb.Model()
    msg.ParseFromString(root_model)
    nodes = msg.attributes.list["nodes"].l
    del nodes.s[:]
    nodes.s.extend(names)
    return msg.SerializeToString()


def add_xgboost_nodes(fs_path: Path, is_zip: bool, fmt: str, order: list[str], nodes: list[dict]) -> None:
    """Add ``nodes`` to the root pipeline of the bundle at ``fs_path``; ``order`` is every stage's
    node name in pipeline order (what MLeap wrote plus these)."""
    ext = "json" if fmt == "json" else "pb"
    added = {f"root/{n['name']}.node/{name}": data for n in nodes for name, data in node_files(n, fmt).items()}
    if not is_zip:
        for rel, data in added.items():
            (fs_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (fs_path / rel).write_bytes(data)
        root = fs_path / "root" / f"model.{ext}"
        root.write_bytes(_with_nodes(root.read_bytes(), fmt, order))
        return
    with zipfile.ZipFile(fs_path) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in entries:
            if info.filename == f"root/model.{ext}":
                data = _with_nodes(data, fmt, order)
            zout.writestr(info, data)
        for rel, data in added.items():
            zout.writestr(rel, data)
    fs_path.write_bytes(buf.getvalue())
