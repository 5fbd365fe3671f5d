"""What a bundle holds, read from its files alone: no Spark, no Java.

    report = inspect_bundle("model.zip")
    report.to_json()        # `leapserve inspect` prints it as text or JSON (leapserve/cli/inspect.py)

The report lists the bundle's info (name, format, MLeap version), each leaf stage in pipeline order
(name, op, input and output columns, whether the leapserve runtime implements the op, notes on
what loading ignores: declared output ports the op does not write), the
pipeline's required input fields (and which of them accept a null) and its outputs. When every op is supported, types come from the
compiled pipeline (``load_bundle(path).inputs``/``.outputs``), so they are exactly what serving will
check. Otherwise each supported stage is loaded on its own for its port types, and the columns
touched only by unsupported ops have type None (`leapserve inspect` shows "unknown").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import registry
from .bundle import BundleInfo, NodeDef, leaf_nodes, read_root
from .container import open_source
from .errors import BundleError
from .plan import ignored_note, load_bundle


@dataclass
class StageInfo:
    name: str
    op: str
    supported: bool
    inputs: dict[str, str]            # port -> column
    outputs: dict[str, str]           # port -> column
    input_types: dict[str, str | None] = field(default_factory=dict)   # column -> type
    output_types: dict[str, str | None] = field(default_factory=dict)  # column -> type
    # output sockets the node declares but the op does not write (port -> column): not served,
    # so not in ``outputs``; one note for each says so
    ignored_outputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class BundleReport:
    path: str
    info: BundleInfo
    stages: list[StageInfo]
    inputs: dict[str, str | None]    # required input column -> type (None: unknown)
    outputs: dict[str, str | None]   # column the pipeline adds -> type (None: unknown)
    # the inputs that accept a null (Pipeline.nullable_inputs); None when an op is unsupported
    nullable_inputs: list[str] | None = None

    @property
    def unsupported_ops(self) -> list[str]:
        return sorted({st.op for st in self.stages if not st.supported})

    @property
    def complete(self) -> bool:
        """Every op is implemented by the runtime: the bundle can be served."""
        return not self.unsupported_ops

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "info": {"name": self.info.name, "format": self.info.format, "mleap_version": self.info.version,
                     "uid": self.info.uid, "timestamp": self.info.timestamp},
            "supported": self.complete,
            "unsupported_ops": self.unsupported_ops,
            "stages": [{"name": st.name, "op": st.op, "supported": st.supported,
                        "inputs": st.inputs, "outputs": st.outputs, "ignored_outputs": st.ignored_outputs,
                        "notes": st.notes} for st in self.stages],
            "inputs": self.inputs,
            "outputs": self.outputs,
            "nullable_inputs": self.nullable_inputs,
        }


def _port_types(node: NodeDef) -> tuple[dict[str, str], dict[str, str]]:
    """Port -> type of a supported stage, from its op model (loaded on its own); the outputs are
    the ports the op writes."""
    info = registry.lookup(node.op)
    try:
        model = info.loader(node)
        ins = {port: str(t) for port, t in model.input_ports()}
        outs = {port: str(t) for port, t in model.output_ports()}
    except BundleError:
        raise
    except Exception as e:  # what the plan does too: a loader surprised by malformed attributes
        raise BundleError(f"op {node.op!r} of node {node.name!r} cannot be loaded: "
                          f"{type(e).__name__}: {e}", path=node.where()) from None
    return ins, outs


def inspect_bundle(path) -> BundleReport:
    """Read a bundle (zip, directory or jar:file:/file: URI); raises BundleError when malformed."""
    with open_source(path) as src:
        info, root = read_root(src)
        stages = []
        for node in leaf_nodes(root):
            stage = StageInfo(node.name, node.op, registry.lookup(node.op) is not None,
                              {s.port: s.name for s in node.inputs}, {s.port: s.name for s in node.outputs})
            if stage.supported:
                ins, outs = _port_types(node)
                for port, col in list(stage.outputs.items()):
                    if port not in outs:
                        del stage.outputs[port]
                        stage.ignored_outputs[port] = col
                        stage.notes.append(ignored_note(node.op, port, col))
                stage.input_types = {col: ins.get(port) for port, col in stage.inputs.items()}
                stage.output_types = {col: outs.get(port) for port, col in stage.outputs.items()}
            stages.append(stage)
        description = src.description

    inputs: dict[str, str | None] = {}
    outputs: dict[str, str | None] = {}
    for st in stages:
        for col in st.inputs.values():
            if col not in outputs and col not in inputs:
                inputs[col] = st.input_types.get(col)
        for col in st.outputs.values():
            outputs.setdefault(col, st.output_types.get(col))

    if all(st.supported for st in stages):
        # The compiled pipeline is the authority: it checks the wiring and fixes the types that
        # serving will enforce (ports the op does not read are not inputs).
        pipeline = load_bundle(path)
        inputs = {col: str(t) for col, t in pipeline.inputs.items()}
        outputs = {col: str(t) for col, t in pipeline.outputs.items()}
        nullable = [col for col in pipeline.inputs if col in pipeline.nullable_inputs]
        return BundleReport(description, info, stages, inputs, outputs, nullable)
    return BundleReport(description, info, stages, inputs, outputs)
