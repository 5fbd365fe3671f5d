"""Categorical features: string_indexer, reverse_string_indexer (IndexToString), one_hot_encoder,
vector_indexer.

Math as Spark 3.5's StringIndexerModel, IndexToString, OneHotEncoderModel and VectorIndexerModel.
Where MLeap's runtime differs from Spark we follow Spark:

* string_indexer: a null label is invalid like an unseen one: an error under "error", index
  ``len(labels)`` under "keep", and under "skip" the row is dropped (MLeap's skip filter fails on
  nulls). Under "skip" a row is dropped when any of its columns is invalid, as Spark's filter.
  Numeric inputs are indexed by their string form, which the runtime's casting gives as Spark's
  cast to string does (``1`` -> "1", ``1.0`` -> "1.0", ``1e-4`` -> "1.0E-4").
* reverse_string_indexer: the index is truncated toward zero like the JVM's ``Double.toInt``
  (so -0.5 and NaN both read label 0); a null index gives a null label.
* one_hot_encoder: a non-integral category is truncated (Spark does not refuse it, MLeap does);
  NaN is invalid; a null input gives a null vector.
* vector_indexer: each categorical feature's value is replaced by its category index. A value
  missing from the map (NaN always is: Scala's map lookup never finds NaN) is an error, becomes
  ``len(map)`` with handle_invalid "keep", or drops the row with "skip" (Spark filters the null
  result out; MLeap would return a null vector). Dense vectors stay dense; sparse vectors keep
  their layout and only stored entries are mapped (an implicit zero stays 0.0). A null vector
  is an error (Spark's UDF throws on it).

string_indexer and one_hot_encoder bundles come in two forms: Spark-era single-column ones
(``labels`` / ``size``, ports ``input``/``output``) and multi-column ones (``labels_length`` +
``labels_array_i`` / ``category_sizes``, ports ``input0..``/``output0..``). The ports the node wires
decide the names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import repeat

import numpy as np

from ..errors import BundleError, InvalidInput, RowSkipped, some_of
from ..model import OpModel, check_batch_width, check_vector, frozen, read_handle_invalid
from ..registry import op
from ..types import DOUBLE, DOUBLE_LIST, STRING, STRING_LIST, vector
from ..vectors import SparseBatch, SparseVector


class EveryPort(frozenset):
    """``discrete_outputs`` of ops whose every output (output, output0, output1, ...) is discrete."""

    def __contains__(self, port) -> bool:
        return isinstance(port, str)


EVERY_PORT = EveryPort()


def column_ports(node, n: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Port names of a multi-column op: input0../output0.., or the legacy single input/output
    when the node wires those (as MLeap's MultiInOutMleapOp translates them)."""
    if any(s.port == "input" for s in node.inputs):
        if n != 1:
            raise BundleError(f"node {node.name!r} wires the single-column port 'input' but its "
                              f"model has {n} columns", path=node.where())
        return ("input",), ("output",)
    return tuple(f"input{i}" for i in range(n)), tuple(f"output{i}" for i in range(n))


def _short(label: str) -> str:
    text = repr(label)
    return text if len(text) <= 60 else text[:57] + "..."


# --- string_indexer -----------------------------------------------------------------------

@dataclass(frozen=True)
class StringIndexerModel(OpModel):
    labels: tuple[tuple[str, ...], ...]  # per column, label at position i has index i
    handle_invalid: str
    in_ports: tuple[str, ...]
    out_ports: tuple[str, ...]
    # label -> index (float) per column, built once by the loader and never changed (plain
    # dicts: their .get is the whole per-row cost)
    index_maps: tuple = field(compare=False, repr=False, default=())

    op_name = "string_indexer"
    discrete_outputs = EVERY_PORT

    def input_ports(self):
        return [(p, STRING) for p in self.in_ports]

    def output_ports(self):
        return [(p, DOUBLE) for p in self.out_ports]

    def invalid(self, k: int, label) -> float:
        """The index of a label missing from column k's labels (null included), or the error."""
        if self.handle_invalid == "keep":
            return float(len(self.labels[k]))
        port = self.in_ports[k]
        what = "null" if label is None else f"unseen label {_short(label)}"
        if self.handle_invalid == "skip":
            raise RowSkipped(port, what)
        raise InvalidInput(port, f"one of the {len(self.labels[k])} labels seen in training "
                                 f"(handle_invalid='error'): {some_of(self.labels[k])}", what)

    def null_probe_inputs(self, port):
        # "" is seldom a label: with "error" the probe must not fail at another column first
        return {p: column[0] for p, column in zip(self.in_ports, self.labels) if p != port and column}

    def row_fn(self, outputs):
        picks = [self.out_ports.index(o) for o in outputs]
        invalid = self.invalid
        if len(self.labels) == 1:
            get = self.index_maps[0].get
            if self.handle_invalid == "keep":
                unknown = float(len(self.labels[0]))

                def run_keep(label):
                    i = get(label)
                    return (unknown if i is None else i,)
                return run_keep

            def run(label):
                i = get(label)
                if i is None:
                    i = invalid(0, label)
                return (i,)
            return run

        getters = [m.get for m in self.index_maps]

        def run_many(*labels):
            idx = []
            for k, label in enumerate(labels):
                i = getters[k](label)
                if i is None:
                    i = invalid(k, label)
                idx.append(i)
            return tuple(idx[p] for p in picks)
        return run_many

    def batch_fn(self, outputs):
        picks = [self.out_ports.index(o) for o in outputs]
        mode = self.handle_invalid

        def run(ctx, *columns):
            n = ctx.n
            out = []
            for k, col in enumerate(columns):
                # map() calls dict.get from C: several times faster than a generator per row.
                idx = np.fromiter(map(self.index_maps[k].get, col, repeat(-1.0, n)), dtype=np.float64, count=n)
                bad = idx < 0.0
                if bad.any():
                    if mode == "keep":
                        idx[bad] = float(len(self.labels[k]))
                    elif mode == "skip":
                        port = self.in_ports[k]
                        ctx.skip(bad, port, "unseen or null label")
                        idx[bad] = 0.0
                    else:
                        r = int(np.argmax(bad))
                        try:
                            self.invalid(k, col[r])
                        except InvalidInput as e:
                            e.row = r
                            raise
                out.append(idx)
            return tuple(out[p] for p in picks)
        return run


@op("string_indexer", family="feature")
def load_string_indexer(node) -> StringIndexerModel:
    """StringIndexer: label -> its position in the fitted labels, per column."""
    attrs = node.attrs
    if "labels_length" in attrs:
        n = attrs.int("labels_length")
        if n < 1:
            raise BundleError(f"attribute 'labels_length' must be at least 1, found {n}", path=attrs.where)
        labels = tuple(tuple(attrs.string_list(f"labels_array_{i}")) for i in range(n))
    else:
        labels = (tuple(attrs.string_list("labels")),)
    in_ports, out_ports = column_ports(node, len(labels))
    maps = []
    for column in labels:
        # a repeated label takes its last position, as in Spark's and MLeap's maps
        maps.append({label: float(i) for i, label in enumerate(column)})
    return StringIndexerModel(labels, read_handle_invalid(node), in_ports, out_ports, tuple(maps))


# --- reverse_string_indexer -----------------------------------------------------------------

@dataclass(frozen=True)
class ReverseStringIndexerModel(OpModel):
    labels: tuple[str, ...]
    list_input: bool  # input_shape list: a list of indices -> a list of labels

    op_name = "reverse_string_indexer"
    discrete_outputs = frozenset({"output"})

    def input_ports(self):
        return [("input", DOUBLE_LIST if self.list_input else DOUBLE)]

    def output_ports(self):
        return [("output", STRING_LIST if self.list_input else STRING)]

    def label_of(self, x: float) -> str:
        # Spark: idx = x.toInt (toward zero, NaN -> 0), then 0 <= idx < len(labels)
        labels = self.labels
        if -1.0 < x < len(labels):
            return labels[int(x)]
        if x != x and labels:
            return labels[0]
        raise InvalidInput("input", f"an index in [0, {len(labels)})", f"index {x!r}")

    def row_fn(self, outputs):
        label_of = self.label_of
        labels, n = self.labels, len(self.labels)
        if self.list_input:
            def run_list(xs):
                if xs is None:
                    return (None,)
                return ([labels[int(x)] if -1.0 < x < n else label_of(x) for x in xs],)
            return run_list

        def run(x):
            if x is None:
                return (None,)
            return (labels[int(x)] if -1.0 < x < n else label_of(x),)
        return run

    def batch_fn(self, outputs):
        if self.list_input:
            row = self.row_fn(outputs)

            def run_list(ctx, col):
                out = np.empty(ctx.n, dtype=object)
                for r, xs in enumerate(col):
                    try:
                        out[r] = row(xs)[0]
                    except InvalidInput as e:
                        e.row = r
                        raise
                return (out,)
            return run_list
        table = np.array(self.labels, dtype=object)
        n = len(self.labels)

        def run(ctx, X):
            X = np.where(np.isnan(X), 0.0, X)
            ok = (X > -1.0) & (X < n)
            if not ok.all():
                r = int(np.argmax(~ok))
                raise InvalidInput("input", f"an index in [0, {n})", f"index {float(X[r])!r}", row=r)
            return (table[X.astype(np.int64)],)
        return run


@op("reverse_string_indexer", family="feature")
def load_reverse_string_indexer(node) -> ReverseStringIndexerModel:
    """IndexToString: index -> label."""
    labels = tuple(node.attrs.string_list("labels"))
    shape = node.attrs.data_shape("input_shape", None)
    list_input = False
    if shape is not None:
        if shape.base == "list":
            list_input = True
        elif shape.base != "scalar":
            raise BundleError(f"attribute 'input_shape': reverse_string_indexer reads scalar or list "
                              f"indices, found a {shape.base}", path=node.attrs.where)
    return ReverseStringIndexerModel(labels, list_input)


# --- one_hot_encoder ------------------------------------------------------------------------

# One-hot row answers are precomputed up to this many categories per column.
ONE_HOT_TABLE_LIMIT = 4096


@dataclass(frozen=True)
class OneHotEncoderModel(OpModel):
    category_sizes: tuple[int, ...]
    drop_last: bool
    keep_invalid: bool
    in_ports: tuple[str, ...]
    out_ports: tuple[str, ...]

    op_name = "one_hot_encoder"

    @property
    def output_sizes(self) -> tuple[int, ...]:
        """Spark's configured sizes: one more slot for invalid values under keep, one less for
        the dropped last category, both cancelling out."""
        if self.keep_invalid and not self.drop_last:
            return tuple(k + 1 for k in self.category_sizes)
        if self.drop_last and not self.keep_invalid:
            return tuple(k - 1 for k in self.category_sizes)
        return self.category_sizes

    def input_ports(self):
        return [(p, DOUBLE) for p in self.in_ports]

    def output_ports(self):
        return [(p, vector(s)) for p, s in zip(self.out_ports, self.output_sizes)]

    def invalid(self, k: int, x: float) -> float:
        """The slot of a value outside [0, K) (NaN included), or the error."""
        size = self.category_sizes[k]
        if self.keep_invalid:
            return float(size)
        what = f"negative value {x!r}" if x < 0 else f"unseen value {x!r}"
        raise InvalidInput(self.in_ports[k], f"a category index in [0, {size}) (handle_invalid='error')", what)

    def row_fn(self, outputs):
        picks = [self.out_ports.index(o) for o in outputs]
        sizes = self.category_sizes
        widths = self.output_sizes
        empties = [SparseVector(s, (), ()) for s in widths]
        invalid = self.invalid
        one = (1.0,)

        # Every answer made once (vectors are immutable): slot c for c in [0, K], K being the
        # slot of an invalid value under keep. Very many categories would make it large.
        tables = [tuple(SparseVector(w, (c,), one) if c < w else empties[k] for c in range(s + 1))
                  if s <= ONE_HOT_TABLE_LIMIT else None for k, (s, w) in enumerate(zip(sizes, widths))]

        def encode(k: int, x):
            if x is None:
                return None
            if not 0.0 <= x < sizes[k]:
                x = invalid(k, x)
            table = tables[k]
            if table is not None:
                return table[int(x)]  # int() truncates as Spark's toInt does
            size = widths[k]
            if x < size:
                return SparseVector(size, (int(x),), one)
            return empties[k]

        if len(sizes) == 1:
            return lambda x: (encode(0, x),)
        if picks == list(range(len(sizes))):  # every output, in port order
            ports = range(len(sizes))
            return lambda *xs: tuple(map(encode, ports, xs))

        def run(*xs):
            vecs = [encode(k, x) for k, x in enumerate(xs)]
            return tuple(vecs[p] for p in picks)
        return run

    def batch_fn(self, outputs):
        picks = [self.out_ports.index(o) for o in outputs]
        widths = self.output_sizes

        def run(ctx, *columns):
            out = []
            for k, X in enumerate(columns):
                size = self.category_sizes[k]
                valid = (X >= 0.0) & (X < size)
                if not valid.all():
                    if not self.keep_invalid:
                        r = int(np.argmax(~valid))
                        try:
                            self.invalid(k, float(X[r]))
                        except InvalidInput as e:
                            e.row = r
                            raise
                    X = np.where(valid, X, float(size))
                hot = X < widths[k]
                indptr = np.zeros(len(X) + 1, dtype=np.int64)
                np.cumsum(hot, out=indptr[1:])
                indices = X[hot].astype(np.int64)
                out.append(SparseBatch(widths[k], indptr, indices, np.ones(len(indices))))
            return tuple(out[p] for p in picks)
        return run


@op("one_hot_encoder", family="feature")
def load_one_hot_encoder(node) -> OneHotEncoderModel:
    """OneHotEncoder: category index -> sparse indicator vector, per column."""
    attrs = node.attrs
    drop_last = attrs.boolean("drop_last", True)
    if "size" in attrs and "category_sizes" not in attrs:
        # Spark 2 era: one column; without handle_invalid, keep when the last category is dropped
        sizes = (attrs.size("size"),)
        default = "keep" if drop_last else "error"
    else:
        sizes = tuple(attrs.check_size(k, "attribute 'category_sizes'") for k in attrs.int_list("category_sizes"))
        default = "error"
    if not sizes:
        raise BundleError("one_hot_encoder has no columns ('category_sizes' is empty)", path=attrs.where)
    for k in sizes:
        if k < 1:
            raise BundleError(f"category sizes must be positive, found {list(sizes)}", path=attrs.where)
    mode = read_handle_invalid(node, ("error", "keep"), default)
    in_ports, out_ports = column_ports(node, len(sizes))
    return OneHotEncoderModel(sizes, drop_last, mode == "keep", in_ports, out_ports)


# --- vector_indexer ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VectorIndexerModel(OpModel):
    num_features: int
    category_maps: tuple = field(compare=False)  # ((feature index, {value: category}), ...), bundle order
    map_sizes: dict = field(compare=False)  # feature index -> number of categories (NaN keys included)
    handle_invalid: str
    lookup_tables: dict = field(compare=False, repr=False)  # feature -> (sorted keys, indices)
    map_of: dict = field(compare=False, repr=False)  # feature -> {value: category}

    op_name = "vector_indexer"

    def input_ports(self):
        return [("input", vector(self.num_features))]

    def output_ports(self):
        return [("output", vector(self.num_features))]

    def _invalid(self, feature: int, value: float):
        if self.handle_invalid == "skip":
            return RowSkipped("input", f"value {value!r} of feature {feature} is not a known category")
        return InvalidInput("input", f"a known category of feature {feature}", f"value {value!r}")

    def index_features(self, x):
        keep = self.handle_invalid == "keep"
        if isinstance(x, SparseVector):
            maps = self.map_of
            values = list(x.values)
            for k, i in enumerate(x.indices):
                cmap = maps.get(i)
                if cmap is None:
                    continue
                v = values[k]
                c = cmap.get(v) if v == v else None
                if c is None:
                    if not keep:
                        raise self._invalid(i, v)
                    c = self.map_sizes[i]
                values[k] = float(c)
            return SparseVector(x.size, x.indices, values)
        out = list(x)
        for i, cmap in self.category_maps:
            v = out[i]
            c = cmap.get(v) if v == v else None
            if c is None:
                if not keep:
                    raise self._invalid(i, v)
                c = self.map_sizes[i]
            out[i] = float(c)
        return out

    def row_fn(self, outputs):
        index_features, size = self.index_features, self.num_features

        def run(x):
            check_vector("input", x, size)
            return (index_features(x),)
        return run

    def _map_values(self, ctx, feature: int, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Category indices of one feature's values; invalid ones per handle_invalid."""
        keys, indices = self.lookup_tables[feature]
        pos = np.searchsorted(keys, values)
        pos_ok = np.minimum(pos, max(len(keys) - 1, 0))
        found = (pos < len(keys)) & (keys[pos_ok] == values) if len(keys) else np.zeros(len(values), bool)
        out = np.where(found, indices[pos_ok] if len(keys) else 0.0, float(self.map_sizes[feature]))
        bad = ~found
        if bad.any():
            if self.handle_invalid == "error":
                k = int(np.argmax(bad))
                raise InvalidInput("input", f"a known category of feature {feature}",
                                   f"value {float(values[k])!r}", row=int(rows[k]))
            if self.handle_invalid == "skip":
                mask = np.zeros(ctx.n, dtype=bool)
                mask[rows[bad]] = True
                ctx.skip(mask, "input", f"a value of feature {feature} is not a known category")
                out = np.where(found, out, values)
        return out

    def batch_fn(self, outputs):
        size = self.num_features

        def run(ctx, X):
            check_batch_width("input", X, size)
            if isinstance(X, SparseBatch):
                values = X.values.copy()
                row_ids = X.row_ids()
                for i, _ in self.category_maps:
                    at = np.nonzero(X.indices == i)[0]
                    if len(at):
                        values[at] = self._map_values(ctx, i, X.values[at], row_ids[at])
                return (X.with_values(values),)
            out = np.array(X, dtype=np.float64, copy=True)
            rows = np.arange(ctx.n)
            for i, _ in self.category_maps:
                out[:, i] = self._map_values(ctx, i, X[:, i], rows)
            return (out,)
        return run


@op("vector_indexer", family="feature")
def load_vector_indexer(node) -> VectorIndexerModel:
    """VectorIndexerModel: categorical features mapped to category indices."""
    attrs = node.attrs
    num_features = attrs.size("num_features")
    if not 0 <= num_features < 1 << 31:
        raise BundleError(f"attribute 'num_features' must be a non-negative int, found {num_features}",
                          path=attrs.where)
    handle_invalid = read_handle_invalid(node)
    maps, sizes, tables = [], {}, {}
    for feature in attrs.long_list("keys"):
        if not 0 <= feature < num_features:
            raise BundleError(f"categorical feature {feature} is outside [0, {num_features})", path=attrs.where)
        if feature in sizes:
            raise BundleError(f"categorical feature {feature} is listed twice in 'keys'", path=attrs.where)
        values = attrs.double_list(f"key_{feature}_keys")
        indices = attrs.long_list(f"key_{feature}_values")
        if len(values) != len(indices):
            raise BundleError(f"'key_{feature}_keys' has {len(values)} values but 'key_{feature}_values' "
                              f"{len(indices)}", path=attrs.where)
        # NaN keys count in the map's size (handle_invalid "keep") but are never found, as in Scala.
        cmap = {v: c for v, c in zip(values, indices) if v == v}
        sizes[feature] = len(values)
        maps.append((feature, cmap))
        keys = sorted(cmap)
        tables[feature] = (frozen(keys), frozen([float(cmap[k]) for k in keys]))
    return VectorIndexerModel(num_features, tuple(maps), sizes, handle_invalid, tables, dict(maps))
