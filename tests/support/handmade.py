"""Bundles written by hand, for what MLeap 0.16's writer cannot write (multi-layer perceptron, LDA)
or does not record (k-means distance measure, ALS cold-start strategy), and the comparison of such
a bundle with Spark's own transform.

    attrs = {"layers": long_list([4, 5, 3]), "weights": tensor([...])}
    path = write_bundle(tmp_path / "b", "protobuf", [node("mlp", "multi_layer_perceptron_classifier",
                        attrs, inputs=[("features", "features")], outputs=[("prediction", "p")])])
    compared, errors, skipped = check_against_spark(load_bundle(path), spark_model, df)

Attribute values are given in the JSON form of the Bundle.ML reference (section 1.6); the
protobuf writer converts them (tensors as big-endian bytes, as MLeap writes them).
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import zipfile
from pathlib import Path

from leapserve.bundleml import bundle_pb2 as pb
from tests.support.parity import check_pipelines, spark_outcomes

NAN = float("nan")

# --- attribute values (JSON form) ------------------------------------------------------------


def _json_double(v: float):
    return None if math.isnan(v) or math.isinf(v) else v  # spray-json writes NaN and infinities as null


def double(v: float) -> dict:
    return {"double": _json_double(float(v))}


def long(v: int) -> dict:
    return {"long": int(v)}


def string(v: str) -> dict:
    return {"string": v}


def double_list(values) -> dict:
    return {"type": "list", "double": [_json_double(float(v)) for v in values]}


def long_list(values) -> dict:
    return {"type": "list", "long": [int(v) for v in values]}


def _tensor_body(values, dims, base: str) -> dict:
    vals = [_json_double(float(v)) for v in values] if base in ("double", "float") else list(values)
    return {base: vals, "shape": {"dimensions": [{"size": int(d), "name": ""} for d in dims]}}


def tensor(values, dims=None, base: str = "double") -> dict:
    """A tensor attribute; ``dims`` defaults to 1-D. 2-D values must already be column-major."""
    values = list(values)
    return {**_tensor_body(values, dims if dims is not None else [len(values)], base), "type": "tensor"}


def tensor_list(tensors, base: str = "double") -> dict:
    """A list of tensors: each item a flat list of values (1-D) or a (values, dims) pair."""
    items = []
    for t in tensors:
        values, dims = t if isinstance(t, tuple) else (list(t), [len(t)])
        items.append(_tensor_body(list(values), dims, base))
    return {"type": "list", "tensor": items}


def column_major(matrix) -> list[float]:
    """The values of a 2-D list/array in column-major order (as MLeap writes Spark matrices)."""
    rows = [list(r) for r in matrix]
    return [rows[i][j] for j in range(len(rows[0]) if rows else 0) for i in range(len(rows))]


# --- writing ---------------------------------------------------------------------------------


def node(name: str, op: str, attrs: dict, *, inputs, outputs, children: dict | None = None,
         tree: list | None = None) -> dict:
    """A graph node. ``children`` maps sub-model folder names (model0, tree3, ...) to
    ``{"op", "attrs", "tree"}`` dicts; ``tree`` holds tree-file records (JSON form)."""
    return {"name": name, "op": op, "attrs": attrs, "inputs": list(inputs), "outputs": list(outputs),
            "children": children or {}, "tree": tree}


def write_bundle(root, fmt: str, nodes: list[dict], *, zip_it: bool = False) -> Path:
    """A bundle whose root pipeline runs ``nodes`` in order; a directory, or a .zip next to it."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / "bundle.json").write_text(json.dumps({
        "uid": "0f6c1e9a-0000-4000-8000-000000000001", "name": "handmade", "format": fmt,
        "version": "0.16.0", "timestamp": "2024-01-01T00:00:00.000"}))
    pipeline = node("handmade", "pipeline", {"nodes": {"type": "list", "string": [n["name"] for n in nodes]}},
                    inputs=[], outputs=[])
    _write_node(root / "root", fmt, pipeline)
    for n in nodes:
        _write_node(root / "root" / f"{n['name']}.node", fmt, n)
    if not zip_it:
        return root
    archive = root.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(root.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(root).as_posix())
    return archive


def _write_node(folder: Path, fmt: str, n: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_model(folder, fmt, n["op"], n["attrs"], n.get("tree"))
    for sub, spec in n.get("children", {}).items():
        sub_folder = folder / sub
        sub_folder.mkdir(parents=True, exist_ok=True)
        write_model(sub_folder, fmt, spec["op"], spec["attrs"], spec.get("tree"))
    shape = {"inputs": [{"port": p, "name": c} for p, c in n["inputs"]],
             "outputs": [{"port": p, "name": c} for p, c in n["outputs"]]}
    if fmt == "json":
        (folder / "node.json").write_text(json.dumps({"name": n["name"], "shape": shape}))
        return
    msg = pb.Node(name=n["name"])
    for p, c in n["inputs"]:
        msg.shape.inputs.add(port=p, name=c)
    for p, c in n["outputs"]:
        msg.shape.outputs.add(port=p, name=c)
    (folder / "node.pb").write_bytes(msg.SerializeToString())


def write_model(folder: Path, fmt: str, op: str, attrs: dict, tree: list | None = None) -> None:
    """model.json / model.pb (and tree.json / tree.pb when ``tree`` is given) in ``folder``."""
    folder = Path(folder)
    if fmt == "json":
        (folder / "model.json").write_text(json.dumps({"op": op, "attributes": attrs}))
    else:
        msg = pb.Model(op=op)
        for key, value in attrs.items():
            pb_value(msg.attributes.list[key], value)
        (folder / "model.pb").write_bytes(msg.SerializeToString())
    if tree is not None:
        write_tree(folder, fmt, tree)


def write_tree(folder: Path, fmt: str, records: list[dict]) -> None:
    """tree.json (one record a line) or tree.pb (length-prefixed messages). Records are decision
    tree nodes ({"type": "leaf"|"internal", ...}) or cluster nodes ({"index", "norm", "values",
    "numChildren"})."""
    if fmt == "json":
        (Path(folder) / "tree.json").write_text("".join(json.dumps(r) + "\n" for r in records))
        return
    out = bytearray()
    for r in records:
        if "numChildren" in r:
            msg = pb.ClusterNode(index=r["index"] & 0xFFFFFFFF, norm=r["norm"], values=r["values"],
                                 num_children=r["numChildren"])  # uint32: MLeap writes -1 as 2^32 - 1
        elif r["type"] == "leaf":
            msg = pb.DecisionNode()
            msg.leaf.values.extend(r["values"])
        else:
            msg = pb.DecisionNode()
            split = r["split"]
            if split["type"] == "continuous":
                msg.internal.split.continuous.feature_index = split["featureIndex"]
                msg.internal.split.continuous.threshold = split["threshold"]
            else:
                c = msg.internal.split.categorical
                c.feature_index = split["featureIndex"]
                c.is_left = split["isLeft"]
                c.num_categories = split["numCategories"]
                c.categories.extend(split["categories"])
        data = msg.SerializeToString()
        out += struct.pack(">i", len(data)) + data
    (Path(folder) / "tree.pb").write_bytes(bytes(out))


_PB_BASIC = {"boolean": 1, "byte": 2, "short": 3, "int": 4, "long": 5, "float": 6, "double": 7, "string": 100}
_STRUCT = {"double": "d", "float": "f", "long": "q", "int": "i"}


def _pb_tensor(target, body: dict) -> None:
    base = next(k for k in ("double", "float", "long", "int", "string") if k in body)
    target.base = _PB_BASIC[base]
    values = [NAN if v is None else v for v in body[base]]
    if base == "string":
        target.value = b"".join(struct.pack(">i", len(s.encode())) + s.encode() for s in values)
    else:
        target.value = struct.pack(f">{len(values)}{_STRUCT[base]}", *values)
    for d in body.get("shape", {}).get("dimensions", []):
        target.shape.dimensions.add(size=d["size"], name=d.get("name", ""))


def pb_value(target, value: dict) -> None:
    """A JSON-form attribute into a protobuf Value."""
    kind = value.get("type")
    if kind == "list":
        for key, slot in (("string", "s"), ("double", "d"), ("long", "l"), ("int", "i"), ("boolean", "b"),
                          ("float", "f")):
            if key in value:
                items = [NAN if v is None else v for v in value[key]] if key in ("double", "float") else value[key]
                getattr(target.l, slot).extend(items)
        for body in value.get("tensor", []):
            _pb_tensor(target.l.t.add(), body)
        target.l.SetInParent()
        return
    if kind == "tensor":
        _pb_tensor(target.t, value)
        return
    for key, slot in (("string", "s"), ("long", "l"), ("int", "i"), ("boolean", "b")):
        if key in value:
            setattr(target.s, slot, value[key])
    if "double" in value:
        target.s.d = NAN if value["double"] is None else value["double"]
    target.s.SetInParent()


# --- editing MLeap's bundles ------------------------------------------------------------------


def add_attributes(bundle: Path, node_path: str, attrs: dict) -> None:
    """Add attributes to one model file of a bundle directory or zip (``node_path`` is the folder
    inside the bundle, e.g. "root" or "root/kmeans_1.node"), keeping the bundle's format."""
    bundle = Path(bundle)
    if bundle.is_dir():
        _edit_model(bundle / node_path, attrs)
        return
    tmp = bundle.with_suffix(".edit")
    if tmp.exists():
        shutil.rmtree(tmp)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tmp)
    _edit_model(tmp / node_path, attrs)
    bundle.unlink()
    with zipfile.ZipFile(bundle, "w") as z:
        for f in sorted(tmp.rglob("*")):
            if f.is_file():
                z.write(f, f.relative_to(tmp).as_posix())
    shutil.rmtree(tmp)


def _edit_model(folder: Path, attrs: dict) -> None:
    if (folder / "model.json").exists():
        doc = json.loads((folder / "model.json").read_text())
        doc.setdefault("attributes", {}).update(attrs)
        (folder / "model.json").write_text(json.dumps(doc))
        return
    msg = pb.Model()
    msg.ParseFromString((folder / "model.pb").read_bytes())
    for key, value in attrs.items():
        pb_value(msg.attributes.list[key], value)
    (folder / "model.pb").write_bytes(msg.SerializeToString())


# --- small pipelines (node lists for write_bundle), for the error-message tests ---------------

SCALAR_SHAPE = {"base": "scalar", "isNullable": True}


def assembled_lr_nodes(inputs=("island", "depth")) -> list[dict]:
    """Scalar inputs -> vector_assembler ("features") -> linear_regression ("prediction"): every
    coefficient 1.0, intercept 0.5."""
    shapes = {"type": "list", "data_shape": [SCALAR_SHAPE] * len(inputs)}
    return [
        node("assembler", "vector_assembler", {"input_shapes": shapes},
             inputs=[(f"input{i}", c) for i, c in enumerate(inputs)], outputs=[("output", "features")]),
        node("lr", "linear_regression", {"coefficients": tensor([1.0] * len(inputs)), "intercept": double(0.5)},
             inputs=[("features", "features")], outputs=[("prediction", "prediction")]),
    ]


def bucketed_lr_nodes() -> list[dict]:
    """depth -> bucketizer (handle_invalid "keep": a null gives a null bucket) -> "depth_bucket",
    which with island goes to assembled_lr_nodes (the assembler refuses a null)."""
    bucketizer = node("bucketizer", "bucketizer", {"splits": {"type": "list", "double": [None, 0.0, None]},
                                                   "handle_invalid": string("keep")},
                      inputs=[("input", "depth")], outputs=[("output", "depth_bucket")])
    return [bucketizer, *assembled_lr_nodes(("island", "depth_bucket"))]


def two_column_indexer_node(mode: str, colours, name: str = "indexer") -> dict:
    """string_indexer of colour (the given labels) and shape ("x", "y") under handle_invalid ``mode``."""
    return node(name, "string_indexer",
                {"labels_length": long(2), "labels_array_0": {"type": "list", "string": list(colours)},
                 "labels_array_1": {"type": "list", "string": ["x", "y"]}, "handle_invalid": string(mode)},
                inputs=[("input0", "colour"), ("input1", "shape")],
                outputs=[("output0", "colour_index"), ("output1", "shape_index")])


def imputer_node(column: str, surrogate: float) -> dict:
    """imputer of ``column`` (null or NaN -> ``surrogate``) into ``column``_filled."""
    return node(f"impute_{column}", "imputer", {"surrogate_value": double(surrogate)},
                inputs=[("input", column)], outputs=[("output", f"{column}_filled")])


def _vectors(size: int) -> dict:
    return {"base": "tensor", "tensorShape": {"dimensions": [{"size": size, "name": ""}]}}


def two_column_encoder_nodes() -> list[dict]:
    """colour -> string indexer ("" is a label) -> colour_index; one one-hot encoder of two columns,
    colour_index -> colour_vec and size -> size_vec (a null size gives a null vector) -> an
    assembler, which refuses the null."""
    indexer = node("idx", "string_indexer", {"labels_length": long(1), "handle_invalid": string("keep"),
                                             "labels_array_0": {"type": "list", "string": ["", "red"]}},
                   inputs=[("input0", "colour")], outputs=[("output0", "colour_index")])
    encoder = node("ohe", "one_hot_encoder", {"category_sizes": {"type": "list", "long": [3, 3]},
                                              "drop_last": {"boolean": False}, "handle_invalid": string("keep")},
                   inputs=[("input0", "colour_index"), ("input1", "size")],
                   outputs=[("output0", "colour_vec"), ("output1", "size_vec")])
    assembler = node("assembler", "vector_assembler",
                     {"input_shapes": {"type": "list", "data_shape": [_vectors(4)] * 2}},
                     inputs=[("input0", "colour_vec"), ("input1", "size_vec")], outputs=[("output", "features")])
    return [indexer, encoder, assembler]


# --- comparing with Spark ---------------------------------------------------------------------


def check_against_spark(pipelines, spark_model, df, label: str = "", *, columns: dict | None = None):
    """Every row of ``df`` (an int ``rid`` column identifies rows) scored by the runtime as Spark's
    ``spark_model.transform`` scores it (or refuses it, or drops it), then the batch path against
    the row path. ``pipelines`` is one loaded pipeline or several (e.g. one per format), checked
    against one run of Spark. ``columns`` maps runtime output columns to Spark's when they are
    named apart. Returns (values compared, rows refused, rows dropped), summed over pipelines."""
    if not isinstance(pipelines, (list, tuple)):
        pipelines = [pipelines]
    tagged = {f"{label}[{n}] ": pipeline for n, pipeline in enumerate(pipelines)}
    counts = check_pipelines(tagged, df.collect(), spark_outcomes(spark_model, df), columns=columns)
    return counts.compared, counts.errors, counts.skipped
