"""A loaded model version (``Served``) and its warm-up: the row and batch programs of every output
built, and a harmless record scored both ways, before the version serves its first request."""

from __future__ import annotations

from dataclasses import dataclass

from leapserve.runtime import ScoringError, load_bundle
from leapserve.runtime.types import INTEGRAL_BASES

from .codec import ModelCodec


@dataclass(frozen=True)
class Served:
    """A loaded and warmed copy of one model version. Immutable; shared by every request."""

    name: str
    version: str
    path: str
    pipeline: object
    codec: ModelCodec
    loaded_at: float
    generation: int


def load_and_warm(path):
    """(pipeline, codec) of a bundle, both warmed: what a Served holds besides names and times."""
    pipeline = load_bundle(str(path))
    codec = ModelCodec(pipeline)
    warm(pipeline, codec)
    return pipeline, codec


def sample_record(pipeline) -> dict:
    """A record of harmless values for every input, to build and run the scoring programs once.

    Strings read by a stage that knows its labels (string indexers) get the first label, so that
    the stages after them run too; everything else is zero, false, empty.
    """
    labels: dict[str, str] = {}
    for st in pipeline.stages:
        known = getattr(st.model, "labels", None)
        if not isinstance(known, (list, tuple)) or not known:
            continue
        per_input = known if isinstance(known[0], (list, tuple)) else [known]  # multi-column indexers
        text_inputs = [col for _, col, t in st.inputs if t.kind == "scalar" and t.base == "string"]
        for col, seen in zip(text_inputs, per_input):
            if seen and isinstance(seen[0], str):
                labels.setdefault(col, seen[0])
    record = {}
    for name, t in pipeline.inputs.items():
        if t.kind == "scalar":
            if t.base == "string":
                record[name] = labels.get(name, "")
            elif t.base == "boolean":
                record[name] = False
            elif t.base in ("double", "float"):
                record[name] = 0.0
            elif t.base in INTEGRAL_BASES:
                record[name] = 0
            else:
                record[name] = None
        elif t.is_vector:
            record[name] = [0.0] * (t.size if t.size is not None else 1)
        elif t.kind == "list":
            record[name] = []
        else:
            record[name] = None
    return record


def warm(pipeline, codec: ModelCodec) -> None:
    """Build the row and batch programs for every output and score the sample once each way.

    Input the sample cannot satisfy (a ScoringError) is fine: the programs are compiled before
    they score. Any other exception means the model is broken and fails the load.
    """
    record = sample_record(pipeline)
    try:
        result = pipeline.transform(record)
        from leapserve.v1 import prediction_pb2

        codec.encode_outputs(prediction_pb2.PredictResponse().outputs, result)
    except ScoringError:
        pass
    try:
        pipeline.transform_batch({k: [v, v] for k, v in record.items()})
    except ScoringError:
        pass
