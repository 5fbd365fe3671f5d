"""Decision trees for the tree ops: reading and checking tree files, and compiling trees to code.

A tree file (tree.json / tree.pb, section 1.8 of the Bundle.ML reference) lists nodes in pre-order,
left subtree first. ``parse_tree`` turns it into a ``Tree`` of flat per-node arrays and checks its
structure. Split semantics follow Spark's ``ml.tree.Split``:

* continuous: left iff ``x[f] <= threshold``, so NaN goes right (and a NaN threshold sends
  everything right);
* categorical: Spark keeps the smaller side of ``[0, numCategories)``, deciding
  ``isLeft = |left categories| <= numCategories / 2`` itself, and tests membership in that set. The
  bundle's ``isLeft`` is MLeap's choice (``|left| < |right|``), which differs when the sides are the
  same size; the two only disagree on values that are not a category (out of range, fractional,
  NaN), and we rebuild Spark's set so that those go where Spark sends them.

Row path: ``compile_trees`` generates one Python function for a whole model (every tree inlined as
nested ``if``/``else`` on literal constants, the leaves as op-supplied statements, features read
once into locals), so a forest costs no call per tree. Only validated ints and floats reach the
generated source. Trees too deep or too big for the compiler fall back to a loop over node arrays.

Batch path: ``BatchTrees`` walks all rows through all trees at once with numpy, one step per tree
level, and returns the leaf reached in each tree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .errors import BundleError, InvalidInput
from .vectors import SparseBatch, SparseVector

# Compiled-code limits. Python allows 100 indentation levels and the compiler recurses on nesting;
# code size grows compile time and memory linearly. Trees past these limits walk node arrays.
MAX_COMPILED_DEPTH = 60
MAX_COMPILED_TREE_NODES = 1 << 14
MAX_COMPILED_MODEL_NODES = 1 << 16
# Sparse rows of vectors wider than this are not densified per record (see SparseRow).
WIDE_VECTOR = 4096
# numCategories beyond this would need huge category sets.
MAX_CATEGORIES = 1 << 24
# Batches smaller than this take the compiled row path, row by row (numpy's per-call cost dominates).
SMALL_BATCH = 32
# Batch categorical splits use a (splits x categories) table of booleans of at most this many cells.
MAX_CATEGORY_TABLE = 1 << 26
# Batch traversal keeps (trees x rows) node ids; rows go in chunks of this many cells (cache-sized).
BATCH_CELLS = 1 << 15

LEAF = -1  # feature index of a leaf


@dataclass(frozen=True, eq=False)
class Tree:
    """One decision tree as flat arrays over its nodes in file order (node 0 is the root).

    For a categorical split, ``categories[i]`` is the set Spark keeps and ``in_set_goes_left[i]``
    Spark's ``isLeft``: left iff ``(x[f] in categories[i]) == in_set_goes_left[i]``.
    """

    feature: tuple[int, ...]            # split feature; LEAF for leaves
    threshold: tuple[float, ...]        # continuous splits; NaN otherwise
    categories: tuple[frozenset | None, ...]
    in_set_goes_left: tuple[bool, ...]
    left: tuple[int, ...]               # child indices; -1 for leaves
    right: tuple[int, ...]
    values: tuple[tuple[float, ...] | None, ...]  # leaf values; None for internal nodes
    depth: int                          # edges on the longest root-to-leaf path
    where: str                          # the tree file, for messages

    @property
    def size(self) -> int:
        return len(self.feature)

    def leaves(self) -> list[int]:
        return [i for i, f in enumerate(self.feature) if f == LEAF]

    def used_features(self) -> set[int]:
        return {f for f in self.feature if f != LEAF}

    def leaf_index(self, x) -> int:
        """The leaf reached by a dense row: a plain walk, for checks (scoring uses compiled code)."""
        i = 0
        feature, threshold, cats, in_left = self.feature, self.threshold, self.categories, self.in_set_goes_left
        while feature[i] != LEAF:
            v = x[feature[i]]
            s = cats[i]
            go_left = v <= threshold[i] if s is None else (v in s) == in_left[i]
            i = self.left[i] if go_left else self.right[i]
        return i


# --- reading and checking -------------------------------------------------------------------

def _number(v, what: str, err) -> float:
    """A JSON double: null stands for NaN (MLeap's JSON writer turns NaN and infinities into null)."""
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise err(f"{what} must be a number, found {v!r}")
    return float(v)


def _integer(v, what: str, err) -> int:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise err(f"{what} must be an integer, found {v!r}")
    return v


def _category_split(split: dict, err) -> tuple[frozenset, bool]:
    """Spark's stored set and isLeft for a categorical split given in MLeap's form."""
    n = _integer(split.get("numCategories"), "numCategories", err)
    if n < 0 or n > MAX_CATEGORIES:
        raise err(f"numCategories must be in [0, {MAX_CATEGORIES}], found {n}")
    bundle_is_left = split.get("isLeft")
    if not isinstance(bundle_is_left, bool):
        raise err(f"isLeft must be a boolean, found {bundle_is_left!r}")
    raw = split.get("categories")
    if not isinstance(raw, list):
        raise err(f"categories must be an array, found {raw!r}")
    cats = []
    for c in raw:
        c = _number(c, "a category", err)
        # Spark requires 0 <= c < numCategories; categories are indices, so they are whole numbers.
        if not (0.0 <= c < n) or not c.is_integer():
            raise err(f"category {c!r} is not an index in [0, {n})")
        cats.append(c)
    given = frozenset(cats)
    if bundle_is_left:
        left, left_count = given, len(cats)  # Spark counts the array it is given, duplicates included
    else:
        left = frozenset(float(c) for c in range(n) if float(c) not in given)
        left_count = len(left)
    spark_is_left = left_count <= n // 2
    if spark_is_left:
        return left, True
    return frozenset(float(c) for c in range(n) if float(c) not in left), False


def parse_tree(nodes: Sequence, where: str, *, num_features: int, leaf_size: int,
               class_counts: bool = False) -> Tree:
    """Check a tree file's nodes (JSON form, pre-order, left first) and build the ``Tree``.

    ``leaf_size`` is the number of values every leaf must hold (class count, or 1). With
    ``class_counts`` leaf values must be finite and non-negative (Spark's class counts are).
    """
    feature: list[int] = []
    threshold: list[float] = []
    categories: list[frozenset | None] = []
    in_left: list[bool] = []
    left: list[int] = []
    right: list[int] = []
    values: list[tuple | None] = []
    depths: list[int] = []
    pending: list[int] = []  # internal nodes still waiting for a child, innermost last
    if not nodes:
        raise BundleError("the tree has no nodes", path=where)
    for i, raw in enumerate(nodes):
        def err(msg, i=i):
            return BundleError(f"node {i}: {msg}", path=where)

        if i > 0 and not pending:
            raise BundleError(f"{len(nodes) - i} node(s) after the end of the tree (from node {i} on)",
                              path=where)
        if not isinstance(raw, dict):
            raise err(f"expected an object, found {type(raw).__name__}")
        depth = 0
        if pending:
            parent = pending[-1]
            depth = depths[parent] + 1
            if left[parent] == -1:
                left[parent] = i
            else:
                right[parent] = i
                pending.pop()
        kind = raw.get("type")
        if kind == "leaf":
            vals = raw.get("values")
            if not isinstance(vals, list):
                raise err(f"leaf 'values' must be an array, found {vals!r}")
            if len(vals) != leaf_size:
                raise err(f"leaf has {len(vals)} value(s), expected {leaf_size}")
            vals = tuple(_number(v, "a leaf value", err) for v in vals)
            if class_counts and not all(0.0 <= v < math.inf for v in vals):
                raise err(f"class counts must be finite and non-negative, found {list(vals)}")
            feature.append(LEAF)
            threshold.append(math.nan)
            categories.append(None)
            in_left.append(False)
            values.append(vals)
        elif kind == "internal":
            split = raw.get("split")
            if not isinstance(split, dict):
                raise err(f"internal node without a split object (found {split!r})")
            f = _integer(split.get("featureIndex"), "featureIndex", err)
            if not 0 <= f < num_features:
                raise err(f"featureIndex {f} is out of range for {num_features} features")
            stype = split.get("type")
            if stype == "continuous":
                threshold.append(_number(split.get("threshold"), "threshold", err))
                categories.append(None)
                in_left.append(False)
            elif stype == "categorical":
                s, goes_left = _category_split(split, err)
                threshold.append(math.nan)
                categories.append(s)
                in_left.append(goes_left)
            else:
                raise err(f"split type must be \"continuous\" or \"categorical\", found {stype!r}")
            feature.append(f)
            values.append(None)
            pending.append(i)
        else:
            raise err(f"node type must be \"internal\" or \"leaf\", found {kind!r}")
        left.append(-1)
        right.append(-1)
        depths.append(depth)
    if pending:
        p = pending[-1]
        side = "left" if left[p] == -1 else "right"
        raise BundleError(f"node {p} has no {side} child: the file ends after {len(nodes)} node(s)",
                          path=where)
    return Tree(tuple(feature), tuple(threshold), tuple(categories), tuple(in_left), tuple(left),
                tuple(right), tuple(values), max(depths), where)


def read_tree(model_dir, *, num_features: int, leaf_size: int, class_counts: bool = False) -> Tree:
    """The tree file (tree.json or tree.pb) of a node or sub-model folder, checked."""
    nodes = model_dir.decision_tree_nodes()
    return parse_tree(nodes, model_dir.where(f"tree.{model_dir.ext}"), num_features=num_features,
                      leaf_size=leaf_size, class_counts=class_counts)


def read_num_features(node) -> int:
    n = node.attrs.size("num_features")
    if n < 0:
        raise BundleError(f"attribute 'num_features' must be non-negative, found {n}", path=node.attrs.where)
    return n


def read_ensemble(node, *, tree_op: str, num_features: int, leaf_size: int,
                  class_counts: bool = False) -> tuple[Tree, ...]:
    """The trees of an ensemble, from the sub-model folders named by attribute ``trees``."""
    names = node.attrs.string_list("trees")
    if not names:
        raise BundleError("attribute 'trees' is empty: an ensemble needs at least one tree",
                          path=node.attrs.where)
    trees = []
    for name in names:
        sub = node.sub_model(name)
        if sub.op != tree_op:
            raise BundleError(f"sub-model {name!r} has op {sub.op!r}, expected {tree_op!r}",
                              path=sub.where(f"model.{sub.ext}"))
        trees.append(read_tree(sub, num_features=num_features, leaf_size=leaf_size,
                               class_counts=class_counts))
    return tuple(trees)


def read_tree_weights(node, count: int) -> tuple[float, ...]:
    weights = node.attrs.double_list("tree_weights")
    if len(weights) != count:
        raise BundleError(f"attribute 'tree_weights' has {len(weights)} values for {count} trees",
                          path=node.attrs.where)
    return tuple(weights)


# --- row path: code generation ----------------------------------------------------------------

def literal(v: float) -> str:
    """Python source for a float constant (the compiler folds 1e999 to infinity)."""
    if v != v:
        return "(1e999-1e999)"
    if v == math.inf:
        return "1e999"
    if v == -math.inf:
        return "-1e999"
    return repr(float(v))


def compilable(tree: Tree) -> bool:
    return tree.depth <= MAX_COMPILED_DEPTH and tree.size <= MAX_COMPILED_TREE_NODES


def array_walker(tree: Tree) -> Callable:
    """A loop over node arrays returning the leaf index: for trees too big to compile."""
    feature = list(tree.feature)
    threshold = list(tree.threshold)
    left = list(tree.left)
    right = list(tree.right)
    if not any(s is not None for s in tree.categories):
        def walk(x):
            i = 0
            f = feature[0]
            while f >= 0:
                i = left[i] if x[f] <= threshold[i] else right[i]
                f = feature[i]
            return i
        return walk
    cats = list(tree.categories)
    in_left = list(tree.in_set_goes_left)

    def walk_categorical(x):
        i = 0
        f = feature[0]
        while f >= 0:
            s = cats[i]
            if s is None:
                i = left[i] if x[f] <= threshold[i] else right[i]
            else:
                i = left[i] if (x[f] in s) == in_left[i] else right[i]
            f = feature[i]
        return i
    return walk_categorical


class Program:
    """Builds the source of one generated function and the names it refers to."""

    def __init__(self):
        self.lines: list[str] = []
        self.namespace: dict[str, object] = {"__builtins__": {}, "type": type, "len": len, "list": list}
        self._count = 0

    def name(self, obj, prefix: str = "K") -> str:
        """A global name bound to ``obj`` in the generated code."""
        self._count += 1
        key = f"{prefix}{self._count}"
        self.namespace[key] = obj
        return key

    def build(self, fn_name: str, filename: str):
        source = "\n".join(self.lines) + "\n"
        exec(compile(source, filename, "exec"), self.namespace)
        return self.namespace[fn_name]


def _null_or_size_error(size: int):
    def bad(x):
        if x is None:
            raise InvalidInput("features", f"vector of size {size}", "null")
        n = x.size if isinstance(x, SparseVector) else len(x)
        raise InvalidInput("features", f"vector of size {size}", f"vector of size {n}")
    return bad


class SparseRow(dict):
    """A sparse row for wide vectors: index -> value, 0.0 for indices not stored."""

    __slots__ = ()

    def __missing__(self, index):
        return 0.0


def _row_converter(size: int, wide: bool):
    """Input that is not a plain list of the right size -> what the generated code indexes.

    Sparse rows become a dense list, or a SparseRow when the vector is wide.
    """
    bad = _null_or_size_error(size)

    def convert(x):
        if isinstance(x, SparseVector) and x.size == size:
            return SparseRow(zip(x.indices, x.values)) if wide else x.to_list()
        if x is not None and not isinstance(x, SparseVector):
            try:
                if len(x) == size:
                    return [float(v) for v in x]
            except TypeError:
                pass
        bad(x)
    return convert


def compile_trees(trees: Sequence[Tree], *, num_features: int, leaf: Callable, fallback: Callable,
                  table: Callable, prologue: Sequence[str], epilogue: Sequence[str], check: bool,
                  name: str):
    """Generate one function ``run(x)`` evaluating every tree in order.

    ``leaf(t, i)`` gives the statements for reaching leaf ``i`` of tree ``t``. A tree too big to
    inline walks node arrays instead: ``table(t)`` gives a per-node list of what its leaves hold,
    and ``fallback(t, expr)`` the statements using ``expr``, the entry of the leaf reached.
    ``prologue`` runs before the first tree (setting accumulators), ``epilogue`` after the last
    (returning). The input is a dense list or a SparseVector; with ``check`` the function itself
    rejects nulls and wrong sizes (else the caller has checked them). The generated code names the
    input ``x`` and features ``x<i>``: op statements must use other names.
    """
    prog = Program()
    budget = MAX_COMPILED_MODEL_NODES
    compiled = []
    for tree in trees:
        ok = compilable(tree) and tree.size <= budget
        if ok:
            budget -= tree.size
        compiled.append(ok)
    walkers = {t: f"{prog.name(table(t), 'T')}[{prog.name(array_walker(tree), 'W')}(x)]"
               for t, tree in enumerate(trees) if not compiled[t]}

    # Features read once into locals when that is cheaper than indexing at every node on the path.
    used = sorted(set().union(*(tree.used_features() for t, tree in enumerate(trees) if compiled[t])))
    path = sum(tree.depth for t, tree in enumerate(trees) if compiled[t])
    wide = num_features > WIDE_VECTOR
    preload = bool(used) and len(used) <= path
    unpack = preload and not wide and num_features <= 2 * len(used) + 8

    def ref(f: int) -> str:
        return f"x{f}" if preload else f"x[{f}]"

    out = prog.lines
    out.append("def run(x):")
    out.append(" if type(x) is not list:")
    if check or wide:
        out.append("  x = CONVERT(x)")
        prog.namespace["CONVERT"] = _row_converter(num_features, wide)
    else:  # the caller has checked: a SparseVector of the right size
        out.append("  x = x.to_list()")
    if check:
        out.append(f" elif len(x) != {num_features}:")
        out.append("  CONVERT(x)")
    if unpack:
        names = ["_"] * num_features
        for f in used:
            names[f] = f"x{f}"
        out.append(f" {', '.join(names)}, = x")
    elif preload:
        out.extend(f" x{f} = x[{f}]" for f in used)
    out.extend(" " + line for line in prologue)
    for t, tree in enumerate(trees):
        if compiled[t]:
            _emit_tree(out, prog, tree, lambda i, t=t: leaf(t, i), ref)
        else:
            out.extend(" " + line for line in fallback(t, walkers[t]))
    out.extend(" " + line for line in epilogue)
    return prog.build("run", f"<leapserve {name}>")


def _emit_tree(out: list[str], prog: Program, tree: Tree, leaf: Callable, ref: Callable) -> None:
    """Nested if/else for one tree, one space of indentation per level (iterative)."""
    stack: list = [(0, 1)]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            continue
        i, indent = item
        pad = " " * indent
        f = tree.feature[i]
        if f == LEAF:
            body = leaf(i)
            out.extend(pad + line for line in (body or ["pass"]))
            continue
        s = tree.categories[i]
        if s is None:
            thr = tree.threshold[i]
            if thr != thr:  # x <= NaN is false for every x: only the right subtree is reachable
                stack.append((tree.right[i], indent))
                continue
            cond, then_child, else_child = f"{ref(f)} <= {literal(thr)}", tree.left[i], tree.right[i]
        else:
            if not s:  # nothing is in the set
                stack.append((tree.right[i] if tree.in_set_goes_left[i] else tree.left[i], indent))
                continue
            members = sorted(s)
            if len(members) == 1:  # == treats NaN and -0.0 as set membership does
                cond = f"{ref(f)} == {literal(members[0])}"
            elif len(members) <= 256:  # a literal set: compiled to a frozenset constant
                cond = f"{ref(f)} in {{{', '.join(literal(c) for c in members)}}}"
            else:
                cond = f"{ref(f)} in {prog.name(frozenset(members), 'S')}"
            if tree.in_set_goes_left[i]:
                then_child, else_child = tree.left[i], tree.right[i]
            else:
                then_child, else_child = tree.right[i], tree.left[i]
        out.append(f"{pad}if {cond}:")
        stack.append((else_child, indent + 1))
        stack.append(f"{pad}else:")
        stack.append((then_child, indent + 1))


# --- batch path -----------------------------------------------------------------------------

class BatchTrees:
    """All trees of a model as concatenated node arrays, walked level by level over all rows.

    Node ids are global: tree ``t``'s node ``i`` is ``offsets[t] + i``. The walk tracks slots
    ``2 * id`` so that the child is one lookup, ``children[slot + went_left]`` (right child first);
    leaves lead back to themselves, so rows that reach a leaf early stay there while deeper trees
    finish.

    Categorical splits are turned into numeric ones before the walk, so that every level is one
    comparison: each distinct split (feature, category set, side) is decided once per row into an
    extra column of the feature matrix, 0.0 where the row goes left and 1.0 where it goes right,
    and its nodes compare that column with 0.5.
    """

    def __init__(self, trees: Sequence[Tree], num_features: int):
        self.num_trees = len(trees)
        self.num_features = num_features
        sizes = [t.size for t in trees]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        total = int(sum(sizes))
        self.depth = max(t.depth for t in trees)
        feature = np.zeros(2 * total, dtype=np.int64)       # by slot; odd slots unused
        threshold = np.full(2 * total, np.nan)
        children = np.repeat(np.arange(0, 2 * total, 2, dtype=np.int64), 2)
        is_leaf = np.zeros(total, dtype=bool)
        split_of_slot = np.full(2 * total, -1, dtype=np.int64)  # categorical split number, or -1
        splits: dict = {}  # (feature, set, goes left when in the set) -> split number
        for tree, off in zip(trees, self.offsets.tolist()):
            for i, f in enumerate(tree.feature):
                g = off + i
                if f == LEAF:
                    is_leaf[g] = True
                    continue
                feature[2 * g] = f
                threshold[2 * g] = tree.threshold[i]
                children[2 * g] = 2 * (off + tree.right[i])
                children[2 * g + 1] = 2 * (off + tree.left[i])
                s = tree.categories[i]
                if s is not None:
                    key = (f, s, tree.in_set_goes_left[i])
                    split_of_slot[2 * g] = splits.setdefault(key, len(splits))
                    threshold[2 * g] = 0.5
        self.threshold, self.children, self.is_leaf = threshold, children, is_leaf
        self.roots = 2 * self.offsets  # each tree's root slot
        self.root_thresholds = threshold[self.roots][:, None]
        self.num_splits = len(splits)
        split_features = np.array([f for f, _, _ in splits], dtype=np.int64)
        if splits:
            # Where each category goes, per split: row k of a (splits, stride + 1) table says
            # "goes left" for categories 0..stride-1; the last column is for any other value.
            stride = int(max((max(s) for _, s, _ in splits if s), default=0)) + 1
            if len(splits) * (stride + 1) > MAX_CATEGORY_TABLE:
                raise BundleError(f"categorical splits too large for the batch path "
                                  f"({len(splits)} splits over {stride} categories)", path=trees[0].where)
            table = np.zeros((len(splits), stride + 1), dtype=bool)
            for k, (_, s, goes_left) in enumerate(splits):
                table[k, :] = not goes_left
                table[k, [int(c) for c in s]] = goes_left
            self.cat_stride = stride
            self.cat_table = table
        internal = np.repeat(~is_leaf, 2) & (np.arange(2 * total) % 2 == 0)
        categorical = split_of_slot >= 0
        self.used = np.unique(np.concatenate([feature[internal & ~categorical], split_features]))
        colmap = np.full(max(num_features, 1), -1, dtype=np.int64)
        colmap[self.used] = np.arange(len(self.used))
        self.colmap = colmap
        # The column each slot reads. Without categorical splits: the input's own columns. With
        # them: a compacted matrix of the used features, then one column per split.
        self.feature = feature
        self.compact_feature = np.where(internal, np.where(categorical, len(self.used) + split_of_slot,
                                                           colmap[feature]), 0)
        self.split_columns = colmap[split_features]  # in the compacted matrix
        # Rows per chunk: (trees x rows) slots and (rows x columns) values stay cache-sized.
        self.chunk_rows = max(1, min(BATCH_CELLS // max(self.num_trees, 1),
                                     16 * BATCH_CELLS // (len(self.used) + self.num_splits + 1)))

    def matrix(self, X) -> tuple[np.ndarray, np.ndarray]:
        """The feature matrix to index and the (by slot) feature array to index it with.

        Dense input without categorical splits is used as it is; otherwise the matrix holds the
        used features only (a SparseBatch densified over them), and the split columns follow.
        """
        if isinstance(X, SparseBatch):
            out = np.zeros((len(X), max(len(self.used), 1)), dtype=np.float64)
            cols = self.colmap[X.indices] if len(X.indices) else np.zeros(0, dtype=np.int64)
            keep = cols >= 0
            out[X.row_ids()[keep], cols[keep]] = X.values[keep]
            return out, self.compact_feature
        if self.num_splits:
            return np.ascontiguousarray(X[:, self.used], dtype=np.float64), self.compact_feature
        return np.ascontiguousarray(X, dtype=np.float64), self.feature

    def leaves(self, X) -> np.ndarray:
        """Global ids of the leaves reached, shape (trees, rows)."""
        M, feature = self.matrix(X)
        n = M.shape[0]
        if self.num_splits:  # the split columns for the whole batch at once
            M = np.hstack([M, self._split_sides(M[:, self.split_columns])])
        out = np.empty((self.num_trees, n), dtype=np.int64)
        step = self.chunk_rows
        for start in range(0, n, step):
            stop = min(n, start + step)
            out[:, start:stop] = self._walk(M[start:stop], feature) >> 1
        return out

    def _split_sides(self, V: np.ndarray) -> np.ndarray:
        """0.0 where a row goes left at a categorical split, 1.0 where it goes right; V holds
        each split's feature value, shape (rows, splits)."""
        stride = self.cat_stride
        with np.errstate(invalid="ignore"):
            iv = V.astype(np.int64)  # NaN, infinities and huge values give garbage, caught below
            other = (iv != V) | (iv < 0) | (iv >= stride)
        iv[other] = stride
        iv += np.arange(self.num_splits, dtype=np.int64) * (stride + 1)
        return np.where(self.cat_table.ravel().take(iv), 0.0, 1.0)

    def _walk(self, M: np.ndarray, feature: np.ndarray) -> np.ndarray:
        n, width = M.shape
        roots = self.roots
        if n == 0 or self.is_leaf.all():
            return np.repeat(roots[:, None], n, axis=1)
        # Level 0: every row of a tree is at its root, so each tree reads one column.
        v = M[:, feature.take(roots)].T
        slot = self.children.take(roots[:, None] + (v <= self.root_thresholds))
        flat = M.ravel()
        base = np.arange(n, dtype=np.int64) * width
        for level in range(1, self.depth):
            v = flat.take(base + feature.take(slot))
            went_left = v <= self.threshold.take(slot)  # false for NaN: NaN goes right
            slot = self.children.take(slot + went_left)
            if level % 8 == 7 and self.is_leaf.take(slot >> 1).all():
                break
        return slot


def leaf_table(trees: Sequence[Tree], offsets: np.ndarray, width: int | None, value: Callable) -> np.ndarray:
    """A table over global node ids holding ``value(t, leaf)`` at each leaf (zeros elsewhere);
    shape (nodes,) when ``width`` is None, else (nodes, width)."""
    total = int(offsets[-1]) + trees[-1].size
    table = np.zeros(total if width is None else (total, width), dtype=np.float64)
    for t, (tree, off) in enumerate(zip(trees, offsets.tolist())):
        for i in tree.leaves():
            table[off + i] = value(t, i)
    return table


# --- weighted sums (gradient-boosted trees) ---------------------------------------------------

def weighted_sum_code(trees: Sequence[Tree], weights: Sequence[float], result: str) -> dict:
    """compile_trees arguments (leaf, fallback, table, prologue, epilogue) computing the weighted
    sum of the trees' predictions into the local ``result``, in the order of Spark's BLAS ddot
    (jmath.ddot_sum_arrays, where jmath says which of Spark's dots follow which order): the first
    trees in blocks of four add into the locals a0..a3 (tree t into a{t % 4}), which are combined,
    then the remaining trees are added one by one."""
    count = len(trees)
    blocks = count - count % 4

    def target(t: int) -> str:
        return f"a{t % 4} +=" if t < blocks else f"b{t - blocks} ="

    def leaf(t: int, i: int) -> list[str]:
        return [f"{target(t)} {literal(weights[t] * trees[t].values[i][0])}"]

    def fallback(t: int, expr: str) -> list[str]:
        return [f"{target(t)} {expr}"]

    def table(t: int) -> list[float]:
        return [weights[t] * v[0] if v is not None else 0.0 for v in trees[t].values]

    prologue = ["a0 = a1 = a2 = a3 = 0.0"] if blocks else []
    epilogue = [f"{result} = 0.0 + (((a0 + a1) + a2) + a3)" if blocks else f"{result} = 0.0"]
    epilogue += [f"{result} += b{j}" for j in range(count - blocks)]
    return dict(leaf=leaf, fallback=fallback, table=table, prologue=prologue, epilogue=epilogue)
