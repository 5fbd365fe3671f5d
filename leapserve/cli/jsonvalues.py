"""Values as strict JSON for what the CLI prints (`predict --output json`, `export --json`)."""

from __future__ import annotations

import math

NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def jsonable(x):
    """``x`` as JSON-friendly Python: dicts, lists and dense vectors as such, sparse vectors as
    {"size", "indices", "values"}, bytes as base64, NaN and infinities as the strings "NaN",
    "Infinity", "-Infinity" (as protobuf's JSON mapping writes them: JSON has no such numbers, and
    jq and most parsers refuse Python's NaN)."""
    from leapserve.runtime.vectors import SparseVector

    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else NON_FINITE[x]
    if isinstance(x, SparseVector):
        return {"size": x.size, "indices": list(x.indices), "values": [jsonable(v) for v in x.values]}
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):  # a DenseVector is a tuple
        return [jsonable(v) for v in x]
    if isinstance(x, bytes):
        import base64

        return base64.b64encode(x).decode("ascii")
    return x
