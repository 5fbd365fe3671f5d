"""Clustering: k_means, bisecting_k_means, gaussian_mixture, lda_local_model_op.

Math as Spark 3.5's models (where MLeap's runtime differs we follow Spark):

* KMeansModel.predict: mllib's ``findClosest`` with its pruning statistics (Elkan's bounds between
  centers) when ``k < 1000`` and ``k * k * numFeatures < 1e6``, else the plain loop with the norm
  lower bound. Distances are ``MLUtils.fastSquaredDistance``: a plain loop for a dense point
  (centers are dense), the norm-and-dot shortcut with its precision fallbacks for a sparse one.
  Ties go to the lowest center. A point with a NaN has a NaN norm, which Spark's
  ``fastSquaredDistance`` refuses (the plain loop, which may compute no distance at all, then
  answers 0). Spark's ``distanceMeasure`` is not in MLeap bundles (any version): a bundle may
  record it as attribute ``distance_measure`` ("euclidean", the default, or "cosine").
* BisectingKMeansModel.predict: from the root, the child with the smallest cost (first on ties,
  NaN never smaller), until a leaf; its ``index`` is the cluster.
* GaussianMixtureModel: ``p_k = EPS + w_k * pdf_k(x)`` normalized by their sum, prediction the
  argmax. ``pdf`` is MultivariateGaussian's: ``exp(u - |A (x - mu)|^2 / 2)`` with
  ``A = D^-1/2 U^T`` over the eigenvalues above ``tol = EPS * max(d) * n`` (pseudo-inverse and
  pseudo-determinant for singular covariances).
* LocalLDAModel.transform: ``OnlineLDAOptimizer.variationalTopicInference`` per document, from a
  gamma initialization drawn with breeze's Gamma(gammaShape, 1 / gammaShape) from a commons-math
  MersenneTwister seeded with the model's seed: every document starts from the same vector, so
  Spark's transform is deterministic and reproducible. MLeap's writers record neither the seed nor
  the shape (leapserve's export does); they are read from attributes ``seed`` and ``gammaShape``
  (default 100) when present.
  An empty (all-zero) document gives a zero vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import sub

import numpy as np

from ..errors import BundleError, InvalidInput, ScoringError
from ..jvm.commons_math import MersenneTwister, digamma_array, gamma_samples
from ..jvm.jmath import (ML_EPSILON, div_by_zero, java_exp, java_max, java_sqrt, seq_dot, seq_sparse_dot, seq_sum,
                         seq_sum_arrays)
from ..model import OpModel, check_batch_width, check_vector, frozen
from ..registry import op
from ..types import INT, vector
from ..vectors import SparseBatch, SparseVector, argmax, argmax_rows

PRECISION = 1e-6  # fastSquaredDistance's default precision


def null_features(size) -> InvalidInput:
    return InvalidInput("features", f"vector of size {size}" if size is not None else "vector", "null")


def norm2(x) -> float:
    """Vectors.norm(x, 2): the square root of the sequential sum of squares of the stored values."""
    values = x.values if isinstance(x, SparseVector) else x
    return math.sqrt(seq_dot(values, values))


# --- distances (mllib DistanceMeasure) --------------------------------------------------------

def sqdist_dense(center, x) -> float:
    """Vectors.sqdist of two dense vectors: the squared differences summed in order."""
    d = list(map(sub, center, x))
    return seq_dot(d, d)


def sparse_dot(x: SparseVector, center) -> float:
    return seq_sparse_dot(x.indices, x.values, center)


def fast_squared_distance(center, center_norm: float, x, x_norm: float) -> float:
    """MLUtils.fastSquaredDistance(center, x) for a dense center (x dense or sparse); the norms
    are known not to be NaN."""
    if type(x) is list:
        return sqdist_dense(center, x)
    sum_sq = center_norm * center_norm + x_norm * x_norm
    diff = center_norm - x_norm
    bound = 2.0 * ML_EPSILON * sum_sq / (diff * diff + ML_EPSILON)
    if bound < PRECISION:
        return sum_sq - 2.0 * sparse_dot(x, center)
    dot = sparse_dot(x, center)
    sq = java_max(sum_sq - 2.0 * dot, 0.0)
    bound = ML_EPSILON * (sum_sq + 2.0 * abs(dot)) / (sq + ML_EPSILON)
    if bound > PRECISION:
        # sqdist(sparse, dense): (x_i - c_i)^2 over every coordinate, x_i = 0 where not stored
        sq = sqdist_dense(center, x.to_list())
    return sq


def cosine_distance(center, center_norm: float, x, x_norm: float) -> float:
    """CosineDistanceMeasure.distance: 1 - dot / |c| / |x|; Spark asserts both norms are > 0."""
    if not (center_norm > 0.0 and x_norm > 0.0):
        raise InvalidInput("features", "a non-zero vector (cosine distance is not defined for zero-length "
                           "vectors)", "a zero vector" if x_norm == 0.0 else "a vector with NaN")
    dot = sparse_dot(x, center) if isinstance(x, SparseVector) else seq_dot(center, x)
    return 1.0 - dot / center_norm / x_norm


# --- batch distances ---------------------------------------------------------------------------

def sparse_norms_and_dots(X: SparseBatch, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the norm of the stored values, and the dot with every center, each summed in
    stored order (one numpy step per position within a row, as Spark's loops add)."""
    n = len(X)
    counts = np.diff(X.indptr)
    sq = np.zeros(n)
    dots = np.zeros((n, C.shape[0]))
    width = int(counts.max()) if n else 0
    with np.errstate(all="ignore"):
        for p in range(width):
            rows = np.nonzero(counts > p)[0]
            pos = X.indptr[rows] + p
            v = X.values[pos]
            sq[rows] += v * v
            dots[rows] += v[:, None] * C[:, X.indices[pos]].T
    return np.sqrt(sq), dots


def dense_norms(X: np.ndarray) -> np.ndarray:
    sq = np.zeros(X.shape[0])
    with np.errstate(all="ignore"):
        for j in range(X.shape[1]):
            sq += X[:, j] * X[:, j]
    return np.sqrt(sq)


def sqdist_rows(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """(rows, centers) squared distances, each summed over features in order."""
    D = np.zeros((X.shape[0], C.shape[0]))
    with np.errstate(all="ignore"):
        for j in range(X.shape[1]):
            t = C[:, j][None, :] - X[:, j][:, None]
            D += t * t
    return D


def squared_distances_batch(X, C: np.ndarray, center_norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fastSquaredDistance of every row to every center, and the row norms."""
    if not isinstance(X, SparseBatch):
        return sqdist_rows(X, C), dense_norms(X)
    norms, dots = sparse_norms_and_dots(X, C)
    with np.errstate(all="ignore"):
        sum_sq = (center_norms * center_norms)[None, :] + (norms * norms)[:, None]
        diff = center_norms[None, :] - norms[:, None]
        bound = 2.0 * ML_EPSILON * sum_sq / (diff * diff + ML_EPSILON)
        fast = bound < PRECISION
        D = np.where(fast, sum_sq - 2.0 * dots, 0.0)
        sq = np.maximum(sum_sq - 2.0 * dots, 0.0)  # np.maximum propagates NaN, as Math.max
        bound2 = ML_EPSILON * (sum_sq + 2.0 * np.abs(dots)) / (sq + ML_EPSILON)
        exact = ~fast & (bound2 > PRECISION)
        D = np.where(fast, D, sq)
    rows = np.nonzero(exact.any(axis=1))[0]
    if len(rows):
        dense = X.take(rows).toarray()
        D[rows] = np.where(exact[rows], sqdist_rows(dense, C), D[rows])
    return D, norms


def cosine_distances_batch(X, C: np.ndarray, center_norms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(X, SparseBatch):
        norms, dots = sparse_norms_and_dots(X, C)
    else:
        norms = dense_norms(X)
        dots = np.zeros((X.shape[0], C.shape[0]))
        for j in range(X.shape[1]):
            dots += X[:, j][:, None] * C[:, j][None, :]
    bad = ~(norms > 0.0)
    if bad.any():
        r = int(np.argmax(bad))
        raise InvalidInput("features", "a non-zero vector (cosine distance is not defined for zero-length "
                           "vectors)", "a zero vector", row=r)
    with np.errstate(all="ignore"):
        return 1.0 - dots / center_norms[None, :] / norms[:, None], norms


# --- k-means ---------------------------------------------------------------------------------

DISTANCE_MEASURES = ("euclidean", "cosine")


def read_distance_measure(node) -> str:
    measure = node.attrs.string("distance_measure", "euclidean").lower() or "euclidean"
    if measure not in DISTANCE_MEASURES:
        raise BundleError(f"attribute 'distance_measure' is {measure!r}; Spark knows {list(DISTANCE_MEASURES)}",
                          path=node.attrs.where)
    return measure


@dataclass(frozen=True, eq=False)
class KMeansModel(OpModel):
    centers: tuple[list, ...]          # dense centers as lists of floats
    center_norms: tuple[float, ...]
    num_features: int
    distance_measure: str
    statistics: tuple | None           # statistics[i][j] (Spark's packed matrix unpacked), or None
    center_array: np.ndarray
    center_norm_array: np.ndarray
    statistics_array: np.ndarray | None

    op_name = "k_means"
    discrete_outputs = frozenset({"prediction"})

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", INT)]

    def distance(self, i: int, x, x_norm: float) -> float:
        if self.distance_measure == "cosine":
            return cosine_distance(self.centers[i], self.center_norms[i], x, x_norm)
        if x_norm != x_norm:  # fastSquaredDistance requires norms >= 0
            raise InvalidInput("features", "a vector without NaN (k-means distances need its norm)",
                               "a vector with NaN")
        return fast_squared_distance(self.centers[i], self.center_norms[i], x, x_norm)

    def predict(self, x) -> int:
        x_norm = norm2(x)
        k = len(self.centers)
        euclidean = self.distance_measure == "euclidean"
        stats = self.statistics
        distance = self.distance
        if stats is not None:
            best = distance(0, x, x_norm)
            if best < stats[0][0]:
                return 0
            best_i = 0
            norms = self.center_norms
            for i in range(1, k):
                if euclidean:
                    d_norm = norms[i] - x_norm
                    if not d_norm * d_norm < best:
                        continue
                if stats[i][best_i] < best:
                    d = distance(i, x, x_norm)
                    if d < stats[i][i]:
                        return i
                    if d < best:
                        best, best_i = d, i
            return best_i
        best, best_i = math.inf, 0
        for i in range(k):
            if euclidean:
                d_norm = self.center_norms[i] - x_norm
                if not d_norm * d_norm < best:
                    continue
            d = distance(i, x, x_norm)
            if d < best:
                best, best_i = d, i
        return best_i

    def row_fn(self, outputs):
        size, predict = self.num_features, self.predict

        def run(x):
            check_vector("features", x, size)
            return (predict(x),)
        return run

    def predict_batch(self, X) -> np.ndarray:
        n, k = X.shape[0], len(self.centers)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        C, cn = self.center_array, self.center_norm_array
        if self.distance_measure == "cosine":
            D, norms = cosine_distances_batch(X, C, cn)
        else:
            D, norms = squared_distances_batch(X, C, cn)
        euclidean = self.distance_measure == "euclidean"
        S = self.statistics_array
        with np.errstate(invalid="ignore"):
            diff = cn[None, :] - norms[:, None]
            lower = diff * diff if euclidean else None
            if S is not None:
                best = D[:, 0].copy()
                best_i = np.zeros(n, dtype=np.int64)
                done = best < S[0, 0]
                for i in range(1, k):
                    cand = ~done & (S[i][best_i] < best)
                    if euclidean:
                        cand &= lower[:, i] < best
                    d = D[:, i]
                    early = cand & (d < S[i, i])
                    better = cand & ~early & (d < best)
                    best_i[early] = i
                    done |= early
                    best[better] = d[better]
                    best_i[better] = i
                return best_i
            best = np.full(n, np.inf)
            best_i = np.zeros(n, dtype=np.int64)
            for i in range(k):
                cand = D[:, i] < best
                if euclidean:
                    cand &= lower[:, i] < best
                best[cand] = D[cand, i]
                best_i[cand] = i
            return best_i

    def batch_fn(self, outputs):
        def run(ctx, X):
            check_batch_width("features", X, self.num_features)
            return (self.predict_batch(X),)
        return run


def _center_statistics(centers, norms, measure: str) -> list[list[float]] | None:
    """DistanceMeasure.computeStatistics, unpacked to a full matrix; None when Spark skips it."""
    k, dim = len(centers), len(centers[0])
    if not (k < 1000 and k * k * dim < 1_000_000):
        return None
    if k == 1:
        return [[math.nan]]
    stats = [[0.0] * k for _ in range(k)]
    diag = [math.inf] * k
    for i in range(k):
        for j in range(i + 1, k):
            if measure == "cosine":
                d = cosine_distance(centers[i], norms[i], centers[j], norms[j])
                s = 1.0 - java_sqrt(1.0 - d / 2.0)
            else:
                d = java_sqrt(sqdist_dense(centers[i], centers[j]))
                s = 0.25 * d * d
            stats[i][j] = stats[j][i] = s
            if s < diag[i]:
                diag[i] = s
            if s < diag[j]:
                diag[j] = s
    for i in range(k):
        stats[i][i] = diag[i]
    return stats


@op("k_means", family="clustering")
def load_k_means(node) -> KMeansModel:
    """K-means: the closest cluster center (Spark's findClosest and distance measure)."""
    attrs = node.attrs
    tensors = attrs.tensor_list("cluster_centers")
    if not tensors:
        raise BundleError("attribute 'cluster_centers' is empty", path=attrs.where)
    centers = []
    for t in tensors:
        if len(t.dims) > 1:
            raise BundleError(f"cluster_centers: expected 1-D tensors, found dimensions {list(t.dims)}",
                              path=attrs.where)
        centers.append([float(v) for v in t.values])
    dim = len(centers[0])
    if any(len(c) != dim for c in centers):
        raise BundleError("cluster_centers have different lengths", path=attrs.where)
    num_features = attrs.long("num_features", dim)
    if num_features != dim:
        raise BundleError(f"num_features {num_features} but centers of length {dim}", path=attrs.where)
    measure = read_distance_measure(node)
    norms = [norm2(c) for c in centers]
    if measure == "cosine" and not all(v > 0.0 for v in norms):
        raise BundleError("a cosine k-means model cannot have a zero (or NaN) center", path=attrs.where)
    stats = _center_statistics(centers, norms, measure)
    return KMeansModel(tuple(centers), tuple(norms), num_features, measure,
                       tuple(tuple(r) for r in stats) if stats is not None else None,
                       frozen(centers).reshape(len(centers), dim), frozen(norms),
                       frozen(stats) if stats is not None else None)


# --- bisecting k-means -------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class BisectingKMeansModel(OpModel):
    centers: tuple[list, ...]          # per tree node, pre-order
    center_norms: tuple[float, ...]
    children: tuple[tuple[int, ...], ...]
    index: tuple[int, ...]             # cluster index of each leaf
    num_features: int
    distance_measure: str
    center_array: np.ndarray
    center_norm_array: np.ndarray

    op_name = "bisecting_k_means"
    discrete_outputs = frozenset({"prediction"})

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", INT)]

    def cost(self, node: int, x, x_norm: float) -> float:
        if self.distance_measure == "cosine":
            return cosine_distance(self.centers[node], self.center_norms[node], x, x_norm)
        return fast_squared_distance(self.centers[node], self.center_norms[node], x, x_norm)

    def predict(self, x) -> int:
        x_norm = norm2(x)
        if self.distance_measure == "euclidean" and x_norm != x_norm:
            raise InvalidInput("features", "a vector without NaN (bisecting k-means distances need its "
                               "norm)", "a vector with NaN")
        cost, children = self.cost, self.children
        node = 0
        cost(0, x, x_norm)  # Spark computes the root's cost first (and refuses what it refuses)
        while children[node]:
            best_node, best = -1, 0.0
            for c in children[node]:
                d = cost(c, x, x_norm)
                if best_node < 0 or d < best:  # Scala's minBy: the first smallest
                    best_node, best = c, d
            node = best_node
        return self.index[node]

    def row_fn(self, outputs):
        size, predict = self.num_features, self.predict

        def run(x):
            check_vector("features", x, size)
            return (predict(x),)
        return run

    def predict_batch(self, X) -> np.ndarray:
        n = X.shape[0]
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        C, cn = self.center_array, self.center_norm_array
        if self.distance_measure == "cosine":
            D, _ = cosine_distances_batch(X, C, cn)
        else:
            D, _ = squared_distances_batch(X, C, cn)
        node = np.zeros(n, dtype=np.int64)
        pending = [(0, np.arange(n))]
        while pending:
            at, rows = pending.pop()
            kids = self.children[at]
            if not kids:
                node[rows] = at
                continue
            best_node = np.full(len(rows), kids[0], dtype=np.int64)
            best = D[rows, kids[0]]
            for c in kids[1:]:
                d = D[rows, c]
                better = d < best
                best_node[better] = c
                best[better] = d[better]
            for c in kids:
                sel = rows[best_node == c]
                if len(sel):
                    pending.append((c, sel))
        return np.asarray(self.index, dtype=np.int64)[node]

    def batch_fn(self, outputs):
        def run(ctx, X):
            check_batch_width("features", X, self.num_features)
            return (self.predict_batch(X),)
        return run


@op("bisecting_k_means", family="clustering")
def load_bisecting_k_means(node) -> BisectingKMeansModel:
    """Bisecting k-means: descend the cluster tree to the closest child until a leaf."""
    where = node.where("tree.json" if node.ext == "json" else "tree.pb")
    raw = node.cluster_tree_nodes()
    if not raw:
        raise BundleError("the cluster tree is empty", path=where)
    centers, children, index = [], [], []
    pos = 0

    def read(depth: int) -> int:
        nonlocal pos
        if pos >= len(raw):
            raise BundleError("the cluster tree ends before all children were read", path=where)
        if depth > 1000:
            raise BundleError("the cluster tree is nested too deep", path=where)
        entry = raw[pos]
        if not isinstance(entry, dict):
            raise BundleError(f"node {pos}: expected an object", path=where)
        me = pos
        pos += 1
        values = entry.get("values", [])
        count = entry.get("numChildren", 0)
        idx = entry.get("index", 0)
        if (not isinstance(values, list) or isinstance(count, bool) or not isinstance(count, int)
                or count < 0 or isinstance(idx, bool) or not isinstance(idx, int)):
            raise BundleError(f"node {me}: invalid values, numChildren or index", path=where)
        try:
            centers.append([math.nan if v is None else float(v) for v in values])
        except (TypeError, ValueError):
            raise BundleError(f"node {me}: center values must be numbers", path=where) from None
        if idx >= 1 << 31:  # protobuf's uint32 holds the JVM's negative ints
            idx -= 1 << 32
        children.append(())
        index.append(idx)
        kids = tuple(read(depth + 1) for _ in range(count))
        if not kids and idx < 0:
            raise BundleError(f"node {me}: a leaf needs a cluster index >= 0, found {idx}", path=where)
        children[me] = kids
        return me

    read(0)
    if pos != len(raw):
        raise BundleError(f"the cluster tree has {len(raw) - pos} node(s) after the root's subtree", path=where)
    dim = len(centers[0])
    if any(len(c) != dim for c in centers):
        raise BundleError("cluster tree centers have different lengths", path=where)
    measure = read_distance_measure(node)
    norms = [norm2(c) for c in centers]
    return BisectingKMeansModel(tuple(centers), tuple(norms), tuple(children), tuple(index), dim, measure,
                                frozen(centers).reshape(len(centers), dim), frozen(norms))


# --- gaussian mixture --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class GaussianMixtureModel(OpModel):
    weights: tuple[float, ...]
    root_inv_rows: tuple[tuple[tuple[float, ...], ...], ...]  # per component: rows of A = D^-1/2 U^T
    root_inv_mean: tuple[tuple[float, ...], ...]              # per component: A mu
    log_constant: tuple[float, ...]                           # per component: u
    num_features: int
    root_inv: tuple[np.ndarray, ...]
    weight_array: np.ndarray
    root_inv_mean_arrays: tuple[np.ndarray, ...]

    op_name = "gaussian_mixture"
    discrete_outputs = frozenset({"prediction"})

    @property
    def k(self) -> int:
        return len(self.weights)

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("prediction", INT), ("probability", vector(self.k))]

    def predict_probability(self, x) -> list[float]:
        if isinstance(x, SparseVector):
            x = x.to_list()
        p = []
        for w, rows, am, u in zip(self.weights, self.root_inv_rows, self.root_inv_mean, self.log_constant):
            q = 0.0
            for row, m in zip(rows, am):
                v = seq_dot(row, x) - m
                q += v * v
            p.append(ML_EPSILON + w * java_exp(u - 0.5 * q))
        total = seq_sum(p)
        return [v / total if total != 0.0 else div_by_zero(v, total) for v in p]

    def row_fn(self, outputs):
        size, predict_probability = self.num_features, self.predict_probability
        order = tuple(outputs)

        def run(x):
            check_vector("features", x, size)
            p = predict_probability(x)
            if order == ("prediction",):
                return (argmax(p),)
            if order == ("probability",):
                return (p,)
            return (argmax(p), p)
        return run

    def predict_probability_batch(self, X) -> np.ndarray:
        D = X.toarray() if isinstance(X, SparseBatch) else X
        n = D.shape[0]
        P = np.empty((n, self.k))
        with np.errstate(all="ignore"):
            for c in range(self.k):
                A = self.root_inv[c]
                if A.shape[0]:
                    V = D @ A.T - self.root_inv_mean_arrays[c]
                    q = (V * V).sum(axis=1)
                else:
                    q = np.zeros(n)
                P[:, c] = ML_EPSILON + self.weights[c] * np.exp(self.log_constant[c] - 0.5 * q)
            return P / seq_sum_arrays(P.T)[:, None]

    def batch_fn(self, outputs):
        order = tuple(outputs)

        def run(ctx, X):
            check_batch_width("features", X, self.num_features)
            P = self.predict_probability_batch(X)
            values = {"probability": P}
            if "prediction" in order:
                values["prediction"] = argmax_rows(P) if len(P) else np.zeros(0, dtype=np.int64)
            return tuple(values[o] for o in order)
        return run


def gaussian_constants(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """MultivariateGaussian's (rootSigmaInv, rootSigmaInv * mean, u), keeping only the rows of
    rootSigmaInv for eigenvalues above the tolerance (the others are zero rows)."""
    d, U = np.linalg.eigh(cov)  # ascending eigenvalues, as LAPACK's dsyev gives breeze
    tol = ML_EPSILON * float(np.max(d)) * len(d)
    keep = [i for i, v in enumerate(d.tolist()) if v > tol]
    log_pseudo_det = seq_sum([math.log(d[i]) for i in keep])
    A = np.array([math.sqrt(1.0 / d[i]) * U[:, i] for i in keep]).reshape(len(keep), len(mean))
    u = -0.5 * (len(mean) * math.log(2.0 * math.pi) + log_pseudo_det)
    return A, A @ mean if len(keep) else np.zeros(0), u


@op("gaussian_mixture", family="clustering")
def load_gaussian_mixture(node) -> GaussianMixtureModel:
    """Gaussian mixture: weighted Gaussian densities (pseudo-inverse for singular covariances)."""
    attrs = node.attrs
    means = attrs.tensor_list("means")
    covs = attrs.tensor_list("covs")
    weights = attrs.double_list("weights")
    k = len(weights)
    if k == 0 or len(means) != k or len(covs) != k:
        raise BundleError(f"means ({len(means)}), covs ({len(covs)}) and weights ({k}) must have the same "
                          f"non-zero length", path=attrs.where)
    dim = len(means[0].values)
    rows, arrays, am_rows, am_arrays, consts = [], [], [], [], []
    for c in range(k):
        mean = np.asarray(means[c].values, dtype=np.float64)
        t = covs[c]
        if len(mean) != dim or len(t.dims) != 2 or t.dims[0] != dim or t.dims[1] != dim:
            raise BundleError(f"component {c}: mean of length {len(mean)} and covariance of dimensions "
                              f"{list(t.dims)} for {dim} features", path=attrs.where)
        cov = np.asarray(t.values, dtype=np.float64).reshape((dim, dim)).T  # column-major
        if not np.isfinite(cov).all() or not np.isfinite(mean).all():
            raise BundleError(f"component {c}: the mean and covariance must be finite", path=attrs.where)
        A, am, u = gaussian_constants(mean, cov)
        A.flags.writeable = False
        arrays.append(A)
        am_arrays.append(frozen(am))
        rows.append(tuple(tuple(float(v) for v in r) for r in A.tolist()))
        am_rows.append(tuple(float(v) for v in am.tolist()))
        consts.append(u)
    return GaussianMixtureModel(tuple(weights), tuple(rows), tuple(am_rows), tuple(consts), dim, tuple(arrays),
                                frozen(weights), tuple(am_arrays))


# --- LDA ---------------------------------------------------------------------------------------

MAX_LDA_ITERATIONS = 100_000  # Spark loops until convergence; we stop a runaway document


@dataclass(frozen=True, eq=False)
class LDAModel(OpModel):
    vocab_size: int
    exp_elog_beta: np.ndarray      # (vocab, k): exp(E[log beta]) per word and topic
    alpha: np.ndarray              # doc concentration (k)
    gamma_init: np.ndarray         # the gamma every document starts from (k)

    op_name = "lda_local_model_op"

    @property
    def k(self) -> int:
        return len(self.alpha)

    def input_ports(self):
        return [("features", vector())]

    def output_ports(self):
        return [("prediction", vector(self.k))]

    def _document(self, x) -> tuple[np.ndarray, np.ndarray] | None:
        """(word ids, counts) as Spark reads them; None for a document without non-zeros."""
        if isinstance(x, SparseVector):
            if not any(v != 0.0 for v in x.values):
                return None
            ids, counts = x.indices, x.values
            if ids and ids[-1] >= self.vocab_size:
                raise InvalidInput("features", f"word indices below the vocabulary size {self.vocab_size}",
                                   f"index {ids[-1]}")
        else:
            if not any(v != 0.0 for v in x):
                return None
            if len(x) > self.vocab_size:  # Spark reads every position of a dense vector
                raise InvalidInput("features", f"vector of at most {self.vocab_size} words",
                                   f"vector of size {len(x)}")
            ids, counts = range(len(x)), x
        return np.asarray(ids, dtype=np.int64), np.asarray(counts, dtype=np.float64)

    def topic_distribution(self, x) -> list[float]:
        doc = self._document(x)
        if doc is None:
            return [0.0] * self.k
        ids, cts = doc
        gamma = self._infer(self.exp_elog_beta[ids], cts[None, :])[0]
        return (gamma / np.abs(gamma).sum()).tolist()

    def _infer(self, beta: np.ndarray, cts: np.ndarray) -> np.ndarray:
        """variationalTopicInference for documents at once over the same words: beta (words, k),
        cts (docs, words). Each document iterates until its own mean change is at most 1e-3."""
        n, k = cts.shape[0], self.k
        alpha = self.alpha
        gamma = np.tile(self.gamma_init, (n, 1))
        with np.errstate(all="ignore"):
            theta = np.exp(digamma_array(gamma) - digamma_array(gamma.sum(axis=1))[:, None])
            phi_norm = theta @ beta.T + 1e-100
            active = np.ones(n, dtype=bool)
            for _ in range(MAX_LDA_ITERATIONS):
                rows = np.nonzero(active)[0]
                if not len(rows):
                    return gamma
                last = gamma[rows]
                g = theta[rows] * ((cts[rows] / phi_norm[rows]) @ beta) + alpha
                t = np.exp(digamma_array(g) - digamma_array(g.sum(axis=1))[:, None])
                gamma[rows] = g
                theta[rows] = t
                phi_norm[rows] = t @ beta.T + 1e-100
                change = np.abs(g - last).sum(axis=1) / k
                active[rows] = change > 1e-3
        raise ScoringError("LDA topic inference did not converge", field="features")

    def row_fn(self, outputs):
        topic_distribution = self.topic_distribution

        def run(x):
            if x is None:
                raise null_features(None)
            return (topic_distribution(x),)
        return run

    def batch_fn(self, outputs):
        vocab = self.vocab_size

        def run(ctx, X):
            n, k = X.shape[0], self.k
            out = np.zeros((n, k))
            if n == 0:
                return (out,)
            if isinstance(X, SparseBatch):
                rid = X.row_ids()
                has_words = np.bincount(rid[X.values != 0.0], minlength=n) > 0
                outside = X.indices >= vocab
                bad = has_words & (np.bincount(rid[outside], minlength=n) > 0)
                if bad.any():
                    r = int(np.argmax(bad))
                    raise InvalidInput("features", f"word indices below the vocabulary size {vocab}",
                                       f"index {int(X.indices[outside & (rid == r)][0])}", row=r)
                inside = ~outside
                used = np.unique(X.indices[inside])
                dense = np.zeros((n, len(used)))
                dense[rid[inside], np.searchsorted(used, X.indices[inside])] = X.values[inside]
            else:
                has_words = (X != 0.0).any(axis=1)
                if X.shape[1] > vocab and has_words.any():  # Spark reads every position of a dense vector
                    raise InvalidInput("features", f"vector of at most {vocab} words",
                                       f"vector of size {X.shape[1]}", row=int(np.argmax(has_words)))
                used = np.nonzero((X != 0.0).any(axis=0))[0]
                dense = X[:, used]
            rows = np.nonzero(has_words)[0]
            if len(rows):
                gamma = self._infer(self.exp_elog_beta[used], dense[rows])
                out[rows] = gamma / np.abs(gamma).sum(axis=1)[:, None]
            return (out,)
        return run


@op("lda_local_model_op", family="clustering")
def load_lda(node) -> LDAModel:
    """Local LDA model: topic distribution by Spark's online variational inference."""
    attrs = node.attrs
    vocab = attrs.size("vocabSize")
    alpha = attrs.double_list("docConcentration")
    topics = attrs.matrix("topicMatrix")  # vocab x k, column-major
    if topics.shape[0] != vocab or topics.shape[1] != len(alpha) or not len(alpha):
        raise BundleError(f"topicMatrix of shape {list(topics.shape)} for vocabSize {vocab} and "
                          f"{len(alpha)} docConcentration values", path=attrs.where)
    if not np.isfinite(topics).all() or not all(math.isfinite(a) for a in alpha):
        raise BundleError("topicMatrix and docConcentration must be finite", path=attrs.where)
    shape = attrs.double("gammaShape", 100.0)
    if not shape > 0.0 or math.isinf(shape):
        raise BundleError(f"attribute 'gammaShape' is {shape}; it must be positive", path=attrs.where)
    seed = attrs.long("seed", 0)
    k = len(alpha)
    # LDAUtils.dirichletExpectation per topic (rows of the transposed matrix), then exp
    lam = topics.T
    elog = digamma_array(lam) - digamma_array(lam.sum(axis=1))[:, None]
    exp_elog_beta = np.exp(elog).T.copy()
    exp_elog_beta.flags.writeable = False
    gamma_init = gamma_samples(shape, 1.0 / shape, k, MersenneTwister(seed))
    return LDAModel(vocab, exp_elog_beta, frozen(alpha), frozen(gamma_init))
