"""The compiled scoring plan: a bundle's pipeline flattened into stages wired to column slots.

Loading resolves everything once: op models are built, nested pipelines flattened, every port
mapped to a column, input and output types fixed, casts between stages decided. Scoring a record
then runs a Python function generated for the wanted outputs: each column is a local variable,
each stage one call, with no parsing and no lookups by name (only the record's own fields are
looked up). Batches run each stage once over numpy columns.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from dataclasses import dataclass
from types import MappingProxyType
from typing import Container, Iterable, Mapping, Sequence

import numpy as np

from . import registry
from .bundle import BundleInfo, NodeDef, leaf_nodes, read_root
from .container import open_source
from .errors import (HINTED_NAMES, LISTED_NAMES, BundleError, InvalidInput, MissingInput, NameIndex, RowSkipped,
                     ScoringError, UnsupportedOpError, describe, some_of)
from .jvm.format import java_double_str
from .model import BatchContext, OpModel
from .types import INTEGRAL_BASES, NUMERIC_BASES, FieldType, caster, to_string
from .vectors import SparseBatch, SparseVector, nonfinite_rows, object_column, to_output

_MISSING = object()
# Python types that casters return unchanged, per (kind, base) of a field.
_ALREADY_CAST = {("scalar", "double"): float, ("scalar", "float"): float, ("scalar", "string"): str}


@dataclass(frozen=True)
class Stage:
    """One leaf node of the pipeline, wired: (port, column, type) for each input and output."""

    name: str
    op: str
    path: str
    model: OpModel
    inputs: tuple[tuple[str, str, FieldType], ...]
    outputs: tuple[tuple[str, str, FieldType], ...]
    # (port, column) of each output the node declares but the op does not write: not served
    ignored_outputs: tuple[tuple[str, str], ...] = ()

    def column_of(self, port: str) -> str | None:
        for p, col, _ in self.inputs + self.outputs:
            if p == port:
                return col
        return None


def ignored_outputs(node: NodeDef, out_ports) -> tuple[tuple[str, str], ...]:
    """(port, column) of each output socket of ``node`` whose port is not among the op's
    ``out_ports``. MLeap's runtime builds a transformer's outputs from the op's own output ports,
    looking each up in the node's shape, so a declared port the op does not write (scikit-learn's
    random forest regressor declares raw_prediction and probability) is ignored, not refused.
    A missing input port stays an error there and here."""
    known = {p for p, _ in out_ports}
    return tuple((s.port, s.name) for s in node.outputs if s.port not in known)


def ignored_note(op: str, port: str, column: str) -> str:
    """What `leapserve inspect` says of one ignored output socket."""
    return (f"output port {port!r} (column {column!r}) is declared but op {op!r} does not write it: "
            f"ignored, not served (as MLeap's runtime does)")


def _load_stage(node: NodeDef) -> Stage:
    info = registry.lookup(node.op)
    if info is None:
        raise UnsupportedOpError(node.op, node.name, node.where())
    try:
        model = info.loader(node)
        in_ports = model.input_ports()
        out_ports = model.output_ports()
    except BundleError:
        raise
    except Exception as e:  # malformed attributes or data the loader did not anticipate
        raise BundleError(f"op {node.op!r} of node {node.name!r} cannot be loaded: "
                          f"{type(e).__name__}: {e}", path=node.where()) from None
    inputs = []
    for port, ftype in in_ports:
        col = node.input_column(port)
        if col is None:
            raise BundleError(f"node {node.name!r} (op {node.op!r}) has no input socket for port {port!r}",
                              path=node.where())
        inputs.append((port, col, ftype))
    outputs = []
    for port, ftype in out_ports:  # the op's order, only the ports the node wires
        col = node.output_column(port)
        if col is not None:
            outputs.append((port, col, ftype))
    ignored = ignored_outputs(node, out_ports)
    return Stage(node.name, node.op, node.where(), model, tuple(inputs), tuple(outputs), ignored)


def _incompatible(have: FieldType, want: FieldType) -> bool:
    """No value of one type casts to the other: a number read as a vector or the other way round,
    or vectors of two sizes."""
    if {have.kind, want.kind} == {"scalar", "tensor"}:
        return True
    return (have.kind == want.kind == "tensor" and have.size is not None and want.size is not None
            and have.size != want.size)


def _needs_cast(have: FieldType, want: FieldType) -> bool:
    if have.kind != want.kind:
        return True
    if have.kind == "scalar":
        return have.base != want.base
    return False


class BatchResult(dict):
    """transform_batch's answer: field -> column, plus which rows Spark would have dropped.

    ``skipped`` is a boolean mask over the input rows; output values in skipped rows are
    placeholders. ``skip_reasons`` maps a skipped row index to why it was dropped.
    """

    def __init__(self, columns: dict, skipped: np.ndarray, skip_reasons: dict[int, str]):
        super().__init__(columns)
        self.skipped = skipped
        self.skip_reasons = skip_reasons


class Pipeline:
    """A loaded bundle, ready to score. Immutable and safe to share across threads."""

    def __init__(self, info: BundleInfo, stages: Sequence[Stage], source_description: str):
        self.info = info
        self.source = source_description
        self.stages = tuple(stages)
        types: dict[str, FieldType] = {}
        inputs: dict[str, FieldType] = {}
        outputs: dict[str, FieldType] = {}
        for st in self.stages:
            for _, col, ftype in st.inputs:
                if col not in types:
                    types[col] = ftype
                    inputs[col] = ftype
                elif _incompatible(types[col], ftype):
                    # Every record would fail here, blamed on the client: refuse the bundle instead.
                    earlier = "writes" if col in outputs else "reads"
                    raise BundleError(f"node {st.name!r} reads column {col!r} as {ftype}, but an earlier "
                                      f"node {earlier} it as {types[col]}", path=st.path)
            for port, col, ftype in st.outputs:
                if col in types and not (port in st.model.in_place_outputs
                                         and any(c == col for _, c, _ in st.inputs)):
                    raise BundleError(f"node {st.name!r} writes column {col!r}, which already exists",
                                      path=st.path)
                types[col] = ftype
                outputs[col] = ftype
        self._types = types
        # column -> the input fields it is computed from (an input: itself)
        lineage: dict[str, tuple[str, ...]] = {col: (col,) for col in inputs}
        for st in self.stages:
            sources = tuple(dict.fromkeys(f for _, col, _ in st.inputs for f in lineage.get(col, ())))
            column_inputs = _column_inputs(st)
            for port, col, _ in st.outputs:
                lineage[col] = lineage.get(column_inputs[port], ()) if column_inputs else sources
        self.lineage: Mapping[str, tuple[str, ...]] = MappingProxyType(lineage)
        # input fields some stage reads as a number (their "" and "null" are nulls there)
        self._read_as_number = frozenset(col for st in self.stages for _, col, t in st.inputs
                                         if col in inputs and t.kind == "scalar" and t.base in NUMERIC_BASES)
        self._nullable: dict[tuple, tuple[frozenset, frozenset]] = {}
        self._null_effects: dict[tuple[int, str], frozenset | None] = {}  # (id of a stage, port)
        self.inputs: Mapping[str, FieldType] = MappingProxyType(inputs)
        self.outputs: Mapping[str, FieldType] = MappingProxyType(outputs)
        self._row_programs: dict[tuple, object] = {}
        self._row_program = None  # the row program of every output, for transform(record) without outputs
        self._batch_programs: dict[tuple, object] = {}
        self._required: dict[tuple | None, Mapping[str, FieldType]] = {}  # outputs asked for -> required_inputs
        self._lock = threading.Lock()

    @property
    def discrete_outputs(self) -> frozenset:
        """Output columns holding indices, labels or class predictions (compared exactly)."""
        return frozenset(col for st in self.stages for port, col, _ in st.outputs
                         if port in st.model.discrete_outputs or st.outputs and _is_text(st, port))

    @property
    def nullable_inputs(self) -> frozenset:
        """The input fields that accept a null when every output is computed (``accepts_null``)."""
        return self._null_analysis(tuple(self.outputs))[0]

    @property
    def nullable_outputs(self) -> frozenset:
        """The output columns that can be null: those that a null in a nullable input makes null."""
        return self._null_analysis(tuple(self.outputs))[1]

    def accepts_null(self, outputs: Sequence[str] | None = None) -> frozenset:
        """The input fields that accept a null when the given outputs (all by default) are
        computed: every stage the null reaches (through the nulls that stages make of it) takes it,
        as in Spark (an imputer, a string indexer with handle_invalid "keep" or "skip", a one-hot
        encoder passing a null vector on to a stage that takes one, ...). ``inputs``' own
        ``nullable`` says only what the cast accepts."""
        return self._null_analysis(self._wanted(outputs))[0]

    def schema(self, name: str) -> FieldType:
        """The type of an input or output field with ``nullable`` as scoring all outputs behaves."""
        ftype = self._types[name]
        nullable = name in (self.nullable_inputs if name in self.inputs else self.nullable_outputs)
        return dataclasses.replace(ftype, nullable=nullable)

    def _null_analysis(self, wanted: tuple[str, ...]) -> tuple[frozenset, frozenset]:
        found = self._nullable.get(wanted)
        return found if found is not None else self._cached(wanted, self._nullable, self._find_nullable)

    def _find_nullable(self, wanted: tuple[str, ...]) -> tuple[frozenset, frozenset]:
        """(inputs that accept a null, outputs a null can reach) for the wanted outputs."""
        active, needed = self._active(wanted)
        accepted, null_outputs = set(), set()
        for name, ftype in self.inputs.items():
            if name not in needed or not ftype.nullable:  # not read, or the cast refuses it
                continue
            null_cols = {name}
            refused = False
            for st in active:
                for port, col, _ in st.inputs:
                    if col not in null_cols:
                        continue
                    key = (id(st), port)
                    if key not in self._null_effects:
                        self._null_effects[key] = _null_effect(st, port)
                    effect = self._null_effects[key]
                    if effect is None:
                        refused = True
                        break
                    if effect is DROPS_ROW:  # no later stage sees the null: the row ends here
                        null_cols = set()
                        break
                    # an output written over the column it reads (in place) is null only if made so
                    null_cols -= {c for _, c, _ in st.outputs} - effect
                    null_cols |= effect
                else:
                    continue
                break
            if not refused:
                accepted.add(name)
                null_outputs |= null_cols & set(wanted)
        return frozenset(accepted), frozenset(null_outputs)

    # --- public API ------------------------------------------------------------------------

    def transform(self, record: Mapping, outputs: Sequence[str] | None = None) -> dict:
        """Score one record (field -> value); returns the added fields (all, or those asked for).

        Raises ScoringError (a ValueError) for bad input, RowSkipped when Spark would drop the row.
        """
        if outputs is None:  # the common call: its program kept apart from the selections' cache
            program = self._row_program
            if program is None:
                program = self._row_program = self._cached(tuple(self.outputs), self._row_programs,
                                                           self._build_row_program)
            return program(record)
        key = self._wanted(outputs)
        program = self._row_programs.get(key)
        if program is None:
            program = self._cached(key, self._row_programs, self._build_row_program)
        return program(record)

    def transform_batch(self, columns: Mapping, outputs: Sequence[str] | None = None, *,
                        sent: Iterable[str] | None = None) -> BatchResult:
        """Score many records given as columns (field -> sequence or numpy array). ``sent``: the
        names the client sent, when they are more than the columns' (a server leaves out fields the
        pipeline does not read): MissingInput suggests among them."""
        key = self._wanted(outputs)
        program = self._batch_programs.get(key)
        if program is None:
            program = self._cached(key, self._batch_programs, self._build_batch_program)
        return program(columns, sent)

    def required_inputs(self, outputs: Sequence[str] | None = None) -> Mapping[str, FieldType]:
        """The input fields needed to compute the given outputs (all outputs by default), read-only.
        Kept per output selection: the servers ask on every request."""
        key = None if outputs is None else tuple(outputs)
        found = self._required.get(key)
        return found if found is not None else self._cached(key, self._required, self._find_required)

    def _find_required(self, outputs: tuple[str, ...] | None) -> Mapping[str, FieldType]:
        _, needed = self._active(self._wanted(outputs))
        return MappingProxyType({name: t for name, t in self.inputs.items() if name in needed})

    # --- compilation -----------------------------------------------------------------------

    def _wanted(self, outputs) -> tuple[str, ...]:
        if outputs is None:
            return tuple(self.outputs)
        wanted = tuple(dict.fromkeys(outputs))
        unknown = [name for name in wanted if name not in self.outputs]
        if unknown:
            # The names come from the client, as many as it likes: only a few get a hint, and the
            # message and ``field`` list only the first LISTED_NAMES (``fields`` has them all).
            hinted = unknown[:HINTED_NAMES]
            known = NameIndex(self.outputs, hinted)
            hints = [f"did you mean {guess!r} for {name!r}?" for name in hinted
                     if (guess := known.meant(name)) is not None]
            noun = "unknown output" if len(unknown) == 1 else f"{len(unknown)} unknown outputs"
            listed = unknown[:LISTED_NAMES]
            more = f" and {len(unknown) - len(listed)} more" if len(unknown) > len(listed) else ""
            e = ScoringError(f"{noun}; this pipeline adds {sorted(self.outputs)}"
                             + ("; " + "; ".join(hints) if hints else ""), field=", ".join(listed) + more)
            e.fields = tuple(unknown)
            e.expected = f"outputs among {sorted(self.outputs)}"
            e.actual = some_of(unknown, LISTED_NAMES)
            raise e
        return wanted

    def _cached(self, key, cache: dict, build):
        """``cache[key]``, made by ``build(key)`` the first time (programs, required inputs, nulls)."""
        with self._lock:
            found = cache.get(key)
            if found is None:
                found = build(key)
                if len(cache) > 64:  # output selections come from clients: keep the cache bounded
                    cache.clear()
                cache[key] = found
        return found

    def _active(self, wanted: tuple[str, ...]) -> tuple[list[Stage], set[str]]:
        """The stages needed for the wanted outputs (in order) and every column they touch."""
        needed = set(wanted)
        active = []
        for st in reversed(self.stages):
            if any(col in needed for _, col, _ in st.outputs):
                active.append(st)
                needed.update(col for _, col, _ in st.inputs)
        active.reverse()
        return active, needed

    def _build_row_program(self, wanted: tuple[str, ...]):
        active, needed = self._active(wanted)
        required = [(name, t) for name, t in self.inputs.items() if name in needed]
        slot: dict[str, str] = {}

        def var(col: str) -> str:
            if col not in slot:
                slot[col] = f"v{len(slot)}"
            return slot[col]

        ns: dict[str, object] = {"MISSING": _MISSING,
                                 "missing": functools.partial(missing_input, dict(required), known=tuple(self.inputs)),
                                 "ScoringError": ScoringError,
                                 "locate": _locator(active, self.lineage, self._read_as_number)}
        lines = ["def run(rec):", "    st = -1", "    try:"]
        for i, (name, ftype) in enumerate(required):
            ns[f"F{i}"], ns[f"C{i}"] = name, caster(ftype, name)
            v = var(name)
            lines += [f"        {v} = rec.get(F{i}, MISSING)",
                      f"        if {v} is MISSING: raise missing(rec)"]
            exact = _ALREADY_CAST.get((ftype.kind, ftype.base))
            if exact is not None:  # skip the caster call for values that already have the type
                ns[f"E{i}"] = exact
                lines.append(f"        if type({v}) is not E{i}: {v} = C{i}({v})")
            else:
                lines.append(f"        {v} = C{i}({v})")
        for k, st in enumerate(active):
            ns[f"K{k}"] = st.model.row_fn(tuple(p for p, _, _ in st.outputs))
            args = []
            for j, (_, col, want) in enumerate(st.inputs):
                if _needs_cast(self._types[col], want):
                    ns[f"X{k}_{j}"] = caster(want, col)
                    args.append(f"X{k}_{j}({var(col)})")
                else:
                    args.append(var(col))
            outs = [var(col) for _, col, _ in st.outputs]
            lines.append(f"        st = {k}")
            lines.append(f"        {', '.join(outs)}, = K{k}({', '.join(args)})")
        items = []
        for i, col in enumerate(wanted):
            ns[f"O{i}"] = col
            if self._types[col].kind == "tensor":
                ns[f"V{i}"] = to_output
                items.append(f"O{i}: V{i}({var(col)})")
            else:
                items.append(f"O{i}: {var(col)}")
        lines += [f"        return {{{', '.join(items)}}}",
                  "    except ScoringError as e:",
                  "        raise locate(e, st, rec)"]
        exec(compile("\n".join(lines), f"<leapserve plan {self.info.name}>", "exec"), ns)
        return ns["run"]

    def _build_batch_program(self, wanted: tuple[str, ...]):
        active, needed = self._active(wanted)
        required = [(name, t) for name, t in self.inputs.items() if name in needed]
        steps = []
        for st in active:
            fn = st.model.batch_fn(tuple(p for p, _, _ in st.outputs))
            casts = [(col, want) if _needs_cast(self._types[col], want) else (col, None)
                     for _, col, want in st.inputs]
            steps.append((st, fn, casts))
        locate = _locator(active, self.lineage, self._read_as_number)
        row_program = self._build_row_program(wanted)
        types = self._types
        required_types = dict(required)
        known = tuple(self.inputs)

        def run(columns: Mapping, sent: Iterable[str] | None = None) -> BatchResult:
            error = missing_input(required_types, columns, known, sent)
            if error is not None:
                raise error
            n = _batch_length(columns, [name for name, _ in required])
            values: dict[str, object] = {}
            null_rows = np.zeros(n, dtype=bool)
            for name, ftype in required:
                arr, nulls = _to_batch(name, ftype, columns[name], n)
                values[name] = arr
                if nulls is not None:
                    null_rows |= nulls
            fast = np.nonzero(~null_rows)[0]
            if len(fast) < n:
                values = {k: _take(v, fast) for k, v in values.items()}
            ctx = BatchContext(len(fast))
            for k, (st, fn, casts) in enumerate(steps):
                try:
                    args = [values[col] if want is None else _cast_batch(values[col], types[col], want, col)
                            for col, want in casts]
                    outs = fn(ctx, *args)
                except ScoringError as e:
                    if e.row is not None:
                        e.row = int(fast[e.row])
                    record = None
                    if e.row is not None:
                        record = {name: _element(columns[name], e.row) for name, _ in required}
                    raise locate(e, k, record)
                for (_, col, _), arr in zip(st.outputs, outs):
                    values[col] = arr
            skipped = np.zeros(n, dtype=bool)
            skipped[fast[ctx.skipped]] = True
            reasons = {}
            for mask, port, reason in ctx.reasons:
                for r in np.nonzero(mask)[0]:
                    reasons.setdefault(int(fast[r]), reason)
            if len(fast) == n:
                return BatchResult({col: values[col] for col in wanted}, skipped, reasons)
            # Rows with nulls in numeric or vector inputs take the row path, where each op applies
            # Spark's null semantics; their answers are merged back in input order.
            slow = np.nonzero(null_rows)[0]
            slow_out = {}
            for r in slow:
                record = {name: _element(columns[name], int(r)) for name, _ in required}
                try:
                    slow_out[int(r)] = row_program(record)
                except RowSkipped as e:
                    skipped[r] = True
                    reasons[int(r)] = e.reason
                except ScoringError as e:
                    e.row = int(r)
                    raise
            merged = {col: _merge(types[col], values[col], fast, slow_out, col, n) for col in wanted}
            return BatchResult(merged, skipped, reasons)

        return run


# _null_effect's answer for a stage that drops the row holding the null (Spark filters it out)
DROPS_ROW = frozenset({"\0drops the row"})


def _null_effect(st: Stage, port: str) -> frozenset | None:
    """What a null at ``port`` does to stage ``st``: None when the stage refuses it (an error),
    DROPS_ROW when it drops the row, else the columns it makes null (empty when it takes the null
    in: imputes it, indexes it). Found by scoring one row with the null and, at the other ports, the
    op's sample values."""
    samples = st.model.null_probe_inputs(port)
    args = []
    for p, _, ftype in st.inputs:
        if p == port:
            args.append(None)
        elif p in samples:
            args.append(samples[p])
        else:
            args.append(_sample_value(ftype))
    try:
        out = st.model.row_fn(tuple(p for p, _, _ in st.outputs))(*args)
    except RowSkipped as e:
        return DROPS_ROW if e.field == port else None
    except Exception:  # a refusal, or a value at another port the op did not take: not known to work
        return None
    return frozenset(col for (_, col, _), v in zip(st.outputs, out) if v is None)


def _sample_value(ftype: FieldType):
    """An ordinary value of a type (zeros, empty text), to stand at the ports not probed."""
    if ftype.kind == "scalar":
        if ftype.base in ("double", "float"):
            return 0.0
        if ftype.base == "boolean":
            return False
        if ftype.base == "string":
            return ""
        if ftype.base == "byte_string":
            return b""
        return 0
    if ftype.is_vector:
        return [0.0] * (ftype.size if ftype.size is not None else 1)
    if ftype.kind == "list":
        return []
    return None


def _column_inputs(st: Stage) -> dict[str, str] | None:
    """For a multi-column op (MLeap's input0../output0.. ports: a string indexer, one-hot encoder,
    imputer... of several columns), the input column each output port is computed from alone;
    None for any other stage, whose every output depends on all its inputs."""
    n = len(st.inputs)
    ports = {p: col for p, col, _ in st.inputs}
    if n < 2 or set(ports) != {f"input{i}" for i in range(n)}:
        return None
    paired = {}
    for port, _, _ in st.outputs:
        source = ports.get("input" + port[len("output"):]) if port.startswith("output") else None
        if source is None:
            return None
        paired[port] = source
    return paired


def _is_text(st: Stage, port: str) -> bool:
    return any(p == port and t.base == "string" for p, _, t in st.outputs)


def missing_input(required: Mapping[str, FieldType], present: Container[str], known: Iterable[str] = (),
                  sent: Iterable[str] | None = None) -> MissingInput | None:
    """None when ``present`` (a record, batch columns or a set of field names) holds every one of
    the ``required`` inputs (field -> type, as Pipeline.required_inputs gives them); else the
    MissingInput naming every absent one. ``sent`` are the names whose near-misses it suggests
    (by default ``present``'s); ``known`` (the pipeline's inputs) are never suggested. The one check
    of the runtime's record and batch paths and of the servers (which may name what was sent)."""
    for name in required:  # a plain loop: the cheapest check per record; the list only on failure
        if name not in present:
            absent = [(f, str(t)) for f, t in required.items() if f not in present]
            return MissingInput(absent[0][0], absent[0][1], missing=absent,
                                sent=present if sent is None else sent, known=known)
    return None


def _is_null_input(v, read_as_number: bool) -> bool:
    """A value the casters read as null (as types.py does: None, and "" or "null" for a number;
    for an input only read as text they are text)."""
    return v is None or (read_as_number and type(v) is str and v in ("", "null"))


def _locator(active: list[Stage], lineage: Mapping[str, tuple[str, ...]], read_as_number: frozenset):
    """Names the column of a stage's error instead of its port, and the stage. A null refused at a
    column that no client sends (a stage made it null) is blamed on the input field whose null led
    there, when ``record`` shows it: the client cannot know the internal column."""
    def locate(err: ScoringError, step: int, record: Mapping | None = None) -> ScoringError:
        if step >= 0 and not hasattr(err, "node"):
            st = active[step]
            if err.field is not None:
                col = st.column_of(err.field)
                if col is not None:
                    err.field = col
                    sources = lineage.get(col, ())
                    if getattr(err, "actual", None) == "null" and record is not None and col not in sources:
                        sent = [f for f in sources if _is_null_input(record.get(f), f in read_as_number)]
                        if sent:
                            err.field = sent[0]
                            err.detail += (f" (the null input {sent[0]!r} became a null in column {col!r}, "
                                           f"which stage {st.name!r} reads)")
            err.node = st.name
            err.op = st.op
        return err
    return locate


# --- batch columns -------------------------------------------------------------------------

def _batch_length(columns: Mapping, names: list[str]) -> int:
    n = None
    for name in names:
        if name not in columns:
            continue
        col = columns[name]
        try:
            length = len(col)
        except TypeError:
            raise InvalidInput(name, "a column (sequence or array)", describe(col)) from None
        if n is None:
            n = length
        elif length != n:
            raise InvalidInput(name, f"a column of {n} rows like the others", f"{length} rows")
    if n is None:
        if names:
            raise MissingInput(names[0], "a column")
        return 0
    return n


def _element(col, r: int):
    v = col[r]
    if isinstance(col, np.ndarray) and col.ndim == 2:
        return v
    if isinstance(v, np.generic):
        return v.item()
    return v


def _take(v, idx: np.ndarray):
    if isinstance(v, SparseBatch):
        return v.take(idx)
    return v[idx]


_TEXT_TYPES = {str, type(None)}


def _to_batch(name: str, ftype: FieldType, col, n: int):
    """An input column in the batch representation, and a mask of the rows that must take the
    row path instead (None when there are none): nulls in numeric and vector columns, and vectors
    holding NaN or infinities, whose results in Spark depend on whether each vector is stored
    dense or sparse, which a batch column does not keep per row."""
    if ftype.kind == "scalar" and ftype.base in ("double", "float", "int", "long", "short", "byte", "boolean"):
        dtype = np.float64 if ftype.base in ("double", "float") else (np.bool_ if ftype.base == "boolean" else np.int64)
        if isinstance(col, np.ndarray) and col.dtype.kind in "fiub" and col.ndim == 1:
            return col.astype(dtype, copy=False), None
        cast = caster(ftype, name)
        out = np.zeros(n, dtype=dtype)
        nulls = np.zeros(n, dtype=bool)
        for r, v in enumerate(col):
            try:
                x = cast(v.item() if isinstance(v, np.generic) else v)
            except ScoringError as e:
                e.row = r
                raise
            if x is None:
                nulls[r] = True
            else:
                out[r] = x
        return out, (nulls if nulls.any() else None)
    if ftype.kind == "scalar" and ftype.base == "string":
        if isinstance(col, np.ndarray) and col.dtype.kind == "U":
            return col.astype(object), None
        if isinstance(col, np.ndarray) and col.dtype == object and col.ndim == 1 \
                and set(map(type, col)) <= _TEXT_TYPES:
            return col, None  # already text and nulls (e.g. from Arrow): checked in C, not copied
        out = np.empty(n, dtype=object)
        for r, v in enumerate(col):
            if v is None or type(v) is str:
                out[r] = v
            else:
                try:
                    out[r] = to_string(name, v.item() if isinstance(v, np.generic) else v)
                except ScoringError as e:
                    e.row = r
                    raise
        return out, None
    if ftype.is_vector:
        size = ftype.size
        if isinstance(col, SparseBatch):
            if size is not None and col.size != size:
                raise InvalidInput(name, f"vectors of size {size}", f"vectors of size {col.size}")
            return col, _nonfinite_rows(col, n)
        if isinstance(col, np.ndarray) and col.dtype.kind in "fiub" and col.ndim == 2:
            if size is not None and col.shape[1] != size:
                raise InvalidInput(name, f"vectors of size {size}", f"vectors of size {col.shape[1]}")
            col = col.astype(np.float64, copy=False)
            return col, _nonfinite_rows(col, n)
        cast = caster(ftype, name)
        rows, nulls = [], np.zeros(n, dtype=bool)
        sparse_rows = np.zeros(n, dtype=bool)
        other_width = np.zeros(n, dtype=bool)
        width = size
        for r, v in enumerate(col):
            try:
                x = cast(v)
            except ScoringError as e:
                e.row = r
                raise
            if x is None:
                nulls[r] = True
            else:
                if isinstance(x, SparseVector):
                    sparse_rows[r] = True
                    xs = x.size
                else:
                    xs = len(x)
                if width is None:
                    width = xs
                elif xs != width:
                    if size is not None:
                        raise InvalidInput(name, f"vectors of size {width}", f"vector of size {xs}", row=r)
                    # a column of no fixed size (read by an op that decides, e.g. VectorSizeHint's
                    # "skip"): the vectors of another width than the first take the row path
                    other_width[r] = True
            rows.append(x)
        width = width or 0
        # A batch column stores every vector one way; some ops (interaction, and any op meeting a
        # NaN) answer differently for a dense and a sparse vector, so the rows stored the other
        # way than most take the row path.
        dense_rows = ~sparse_rows & ~nulls
        sparse = sparse_rows.sum() > dense_rows.sum()
        slow = nulls | other_width | (dense_rows if sparse else sparse_rows)
        filled = [x if x is not None and not slow[r] else SparseVector(width, (), ()) for r, x in enumerate(rows)]
        if sparse:
            out = SparseBatch.from_rows(width, filled)
        else:
            out = np.array([x if isinstance(x, list) else x.to_list() for x in filled], dtype=np.float64)
            out = out.reshape(n, width)
        nonfinite = _nonfinite_rows(out, n)
        if nonfinite is not None:
            slow = slow | nonfinite
        return out, (slow if slow.any() else None)
    # lists and anything else: object array of row values (None allowed)
    cast = caster(ftype, name)
    out = np.empty(n, dtype=object)
    for r, v in enumerate(col):
        try:
            out[r] = cast(v)
        except ScoringError as e:
            e.row = r
            raise
    return out, None


def _nonfinite_rows(col, n: int):
    """Rows of a vector column holding NaN or an infinity (None when there are none)."""
    if isinstance(col, SparseBatch):
        bad = ~np.isfinite(col.values)
        if not bad.any():
            return None
        mask = np.zeros(n, dtype=bool)
        mask[col.row_ids()[bad]] = True
        return mask
    return nonfinite_rows(col) if col.size else None


def _cast_batch(arr, have: FieldType, want: FieldType, col: str):
    if have.base == "string" and want.kind == "scalar" and want.base in NUMERIC_BASES:
        return _parse_strings(arr, want, col)
    try:
        if want.kind == "scalar" and want.base in ("double", "float"):
            return np.asarray(arr, dtype=np.float64)
        if want.kind == "scalar" and want.base in INTEGRAL_BASES:
            return np.asarray(arr).astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        # e.g. a list column read as a number: the row path's caster names the row and the value
        cast = caster(want, col)
        for r, v in enumerate(arr):
            try:
                cast(v.item() if isinstance(v, np.generic) else v)
            except ScoringError as e:
                e.row = r
                raise
        raise InvalidInput(col, str(want), f"a column of {have}") from None
    if want.kind == "scalar" and want.base == "string":
        if have.base in ("double", "float"):
            return np.array([java_double_str(float(x)) for x in arr], dtype=object)
        return np.array([to_string(col, x.item() if isinstance(x, np.generic) else x) for x in arr], dtype=object)
    return arr


def _parse_strings(arr, want: FieldType, col: str) -> np.ndarray:
    """A string column as a float64 or int64 column, each string parsed as the row path's caster
    parses it (Java's rules, see types.py; numpy would call Python's float() and int(), which take
    any digit of this Python's Unicode version, "inf" and "1_000"). The caster reads "" and "null"
    as nulls, which the column cannot hold: like a string Java cannot parse, an InvalidInput naming
    the row. A null string is NaN among doubles (as numpy read it) and refused among integers."""
    cast = caster(want, col)
    floating = want.base in ("double", "float")
    out = np.empty(len(arr), dtype=np.float64 if floating else np.int64)
    for r, v in enumerate(arr):
        if v is None and floating:
            out[r] = np.nan
            continue
        try:
            value = cast(v)
            if value is None:
                raise InvalidInput(col, str(want), "null" if v is None else f"string {v!r}")
        except ScoringError as e:
            e.row = r
            raise
        out[r] = value
    return out


def _merge(ftype: FieldType, fast_col, fast: np.ndarray, slow: dict, col: str, n: int):
    """Put the row-path answers of null rows back among the batch answers, in input order."""
    rows: list = [None] * n
    if isinstance(fast_col, SparseBatch):
        for i, r in enumerate(fast):
            rows[int(r)] = fast_col.row(i)
    else:
        for i, r in enumerate(fast):
            rows[int(r)] = fast_col[i]
    for r, out in slow.items():
        rows[r] = out[col]
    return column_from_rows(ftype, rows)


def column_from_rows(ftype: FieldType, rows: list):
    """Row values of one field -> its batch column."""
    if ftype.kind == "tensor":
        if all(v is not None for v in rows):  # a null vector (Spark's null output) keeps the object column
            if any(isinstance(v, SparseVector) for v in rows):
                size = next(v.size if isinstance(v, SparseVector) else len(v) for v in rows)
                return SparseBatch.from_rows(size, rows)
            return np.array([np.asarray(v, dtype=np.float64) for v in rows]).reshape(len(rows), -1)
        return object_column([v if v is None or isinstance(v, SparseVector) else np.asarray(v) for v in rows])
    if ftype.kind == "scalar" and ftype.base in ("double", "float") and all(v is not None for v in rows):
        return np.array(rows, dtype=np.float64)
    if ftype.kind == "scalar" and ftype.base in ("int", "long") and all(v is not None for v in rows):
        return np.array(rows, dtype=np.int64)
    return object_column(rows)


def load_bundle(source) -> Pipeline:
    """Load and compile a bundle (zip path, directory, or jar:file:/file: URI)."""
    src = open_source(source)
    try:
        info, root = read_root(src)
        return Pipeline(info, [_load_stage(node) for node in leaf_nodes(root)], src.description)
    finally:
        src.close()
