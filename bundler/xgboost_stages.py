"""XGBoost's PySpark models (``xgboost.spark``) in an export, written as MLeap's XGBoost ops.

SparkXGBClassifierModel and SparkXGBRegressorModel live in Python only, so MLeap's serializer
(which walks JVM stages) cannot see them. The export hands MLeap the pipeline without them, then
adds one node per XGBoost model to the root pipeline, at the model's place among the stages, in the
layout MLeap's xgboost4j-spark writer uses (docs/ops.md): the booster in ``xgboost.model`` (UBJSON,
which XGBoost reads from 1.6 on; MLeap's JVM runtime has xgboost4j 2.0, untried here because the
tests' MLeap harness has no XGBoost runtime), attributes ``num_features``,
``num_classes`` (classifier), ``tree_limit``, ``missing`` and ``objective`` (classifier).
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

from .errors import StageNotSerializable

BOOSTER_FILE = "xgboost.model"
_CLASSES = {"SparkXGBClassifierModel": "xgboost.classifier", "SparkXGBRegressorModel": "xgboost.regression"}


def xgboost_op(stage) -> str | None:
    """The MLeap op an xgboost.spark model is written as, or None for any other stage."""
    cls = type(stage)
    if not cls.__module__.startswith("xgboost.spark"):
        return None
    for klass in cls.__mro__:
        if klass.__name__ in _CLASSES and klass.__module__.startswith("xgboost.spark"):
            return _CLASSES[klass.__name__]
    return None


def _name(stage) -> str:
    return f"{type(stage).__module__}.{type(stage).__name__}"


def _param(stage, name: str):
    return stage.getOrDefault(name) if stage.hasParam(name) and stage.isDefined(stage.getParam(name)) else None


def check_xgboost_stage(stage) -> None:
    """Refuse, naming the stage, what the ops cannot express."""
    why = None
    if _param(stage, "features_cols"):
        why = "features_cols (one column per feature) has no MLeap port; assemble the features into featuresCol"
    elif _param(stage, "base_margin_col"):
        why = "base_margin_col has no MLeap port"
    elif _param(stage, "pred_contrib_col"):
        why = "pred_contrib_col (SHAP contributions) is not written"
    elif _param(stage, "enable_sparse_data_optim"):
        why = ("enable_sparse_data_optim treats a sparse vector's absent entries as missing; the ops "
               "score dense rows")
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
    config = json.loads(stage.get_booster().save_config())
    gb = config["learner"]["gradient_booster"]
    if gb["name"] == "gblinear":
        return 0
    params = gb["gbtree"]["gbtree_model_param"] if gb["name"] == "dart" else gb["gbtree_model_param"]
    return end * max(1, int(params.get("num_parallel_tree", 1)))


def xgboost_node(stage, op: str) -> dict:
    """The node's sockets, attributes (JSON form) and booster bytes."""
    booster = stage.get_booster()
    sk = stage._xgb_sklearn_model
    attrs = {"num_features": {"int": int(booster.num_features())}}
    outputs = []
    if op == "xgboost.classifier":
        attrs["num_classes"] = {"int": int(sk.n_classes_)}
        ports = (("raw_prediction", "rawPredictionCol"), ("prediction", "predictionCol"),
                 ("probability", "probabilityCol"))
    else:
        ports = (("prediction", "predictionCol"),)
    for port, param in ports:
        column = _param(stage, param)
        if column:  # Spark's transform writes no column for an empty name
            outputs.append({"port": port, "name": column})
    attrs["tree_limit"] = {"int": _tree_limit(stage)}
    missing = _param(stage, "missing")
    attrs["missing"] = {"float": math.nan if missing is None else float(missing)}
    if op == "xgboost.classifier":
        attrs["objective"] = {"string": json.loads(booster.save_config())["learner"]["objective"]["name"]}
    return {"name": stage.uid, "op": op, "inputs": [{"port": "features", "name": stage.getFeaturesCol()}],
            "outputs": outputs, "attributes": attrs, "booster": bytes(booster.save_raw("ubj"))}


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
