"""Tokens to vectors: hashing_term_frequency, count_vectorizer, idf, word_to_vector.

Semantics are Spark 3.5's (HashingTF, CountVectorizerModel, IDFModel, Word2VecModel):

* hashing_term_frequency: each term's UTF-8 bytes hashed with MurmurHash3 x86_32, seed 42
  (``hashUnsafeBytesVersion`` 2 = standard, Spark 3; 1 = Spark 2's legacy variant, MLeap's default
  when the attribute is absent), bucket = non-negative modulo; a null term hashes to the seed
  itself. Counts (or 1.0 when ``binary``), always a sparse vector. The input is list<string> as in
  MLeap: non-string items are turned into strings by the input casting before hashing, whereas
  Spark hashes the numbers of an array<int>/array<double> column with hashInt/hashLong, so a
  HashingTF fit on a numeric array column does not score like Spark.
* count_vectorizer: counts of in-vocabulary terms; ``min_tf`` >= 1 is an absolute count, below 1 a
  fraction of the document's token count (out-of-vocabulary and null tokens included); entries
  below the threshold are dropped; ``binary`` gives 1.0. Always sparse.
* idf: ``x_i * idf_i``; sparse stays sparse (stored entries only, zeros kept), dense stays dense.
* word_to_vector: the mean of the known words' vectors, dividing by the whole sentence's length
  (unknown and null words count); an empty sentence gives an empty sparse vector. MLeap's "sqrt"
  kernel instead divides the sum by its Euclidean norm. Dense output.

A null list or vector is an error (Spark's UDFs throw on it).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from itertools import chain, repeat

import numpy as np

from ..errors import BundleError, InvalidInput
from ..jvm.jmath import java_div, seq_dot
from ..jvm.murmur3 import hash_string
from ..model import TEXT_CACHE_ENTRIES, OpModel, cache_cost, frozen, text_cache_bytes
from ..registry import op
from ..types import STRING_LIST, vector
from ..vectors import SparseBatch, SparseVector, object_rows


def _null(port: str, what: str) -> InvalidInput:
    return InvalidInput(port, f"{what} (nulls are not accepted)", "null")


def _csr(size: int, indptr: list, indices: list, values: list) -> SparseBatch:
    return SparseBatch(size, np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64),
                       np.asarray(values, dtype=np.float64))


# --- hashing_term_frequency --------------------------------------------------------------------

def term_index(term, num_features: int, version: int) -> int:
    """Spark's HashingTF.indexOf: murmur3 of the UTF-8 bytes (a null hashes to the seed, 42)."""
    if term is None:
        return 42 % num_features
    if not isinstance(term, str):
        raise InvalidInput("input", "a list of strings", f"an item of type {type(term).__name__}")
    return hash_string(term, 42, version) % num_features


class _TermIndexCache:
    """Term -> bucket, remembered across records (tokens repeat a lot). Two generations of plain
    dicts approximate least-recently-used eviction while a hit costs one dict lookup: a term that
    misses the young generation is promoted from the old one (or hashed), and when the young one
    is full (entries, or half the cache's bytes) it becomes the old one, dropping the terms not used
    during a whole generation (see model.py: the text ops' caches)."""

    __slots__ = ("young", "old", "limit", "index_of", "max_bytes", "young_bytes")

    def __init__(self, index_of, max_bytes: int, limit: int = TEXT_CACHE_ENTRIES):
        self.young: dict = {}
        self.old: dict = {}
        self.limit = limit
        self.index_of = index_of
        self.max_bytes = max_bytes
        self.young_bytes = 0

    def lookup(self, term) -> int:
        i = self.old.get(term)
        if i is None:
            i = self.index_of(term)
        cost = cache_cost(term)
        if cost > self.max_bytes >> 6:
            return i
        young = self.young
        if len(young) >= self.limit or self.young_bytes + cost > self.max_bytes >> 1:
            self.old = young
            young = self.young = {}
            self.young_bytes = 0
        young[term] = i
        self.young_bytes += cost
        return i


@dataclass(frozen=True)
class HashingTermFrequencyModel(OpModel):
    num_features: int
    binary: bool
    hash_version: int
    cache: _TermIndexCache = field(compare=False, repr=False)

    op_name = "hashing_term_frequency"

    def input_ports(self):
        return [("input", STRING_LIST)]

    def output_ports(self):
        return [("output", vector(self.num_features))]

    def index_of(self, term) -> int:
        return term_index(term, self.num_features, self.hash_version)

    def _counter(self):
        cache, binary = self.cache, self.binary
        lookup = cache.lookup

        def counts(terms) -> dict:
            get = cache.young.get
            tf: dict = {}
            if binary:
                for t in terms:
                    i = get(t)
                    tf[lookup(t) if i is None else i] = 1.0
            else:
                for t in terms:
                    i = get(t)
                    if i is None:
                        i = lookup(t)
                    tf[i] = tf.get(i, 0.0) + 1.0
            return tf
        return counts

    def row_fn(self, outputs):
        counts, size = self._counter(), self.num_features

        def run(terms):
            if terms is None:
                raise _null("input", "a list of strings")
            tf = counts(terms)
            idx = sorted(tf)
            return (SparseVector(size, idx, [tf[i] for i in idx]),)
        return run

    def batch_fn(self, outputs):
        cache, size, binary = self.cache, self.num_features, self.binary

        def run(ctx, col):
            lists = object_rows(col)
            try:
                lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
            except TypeError:  # a null row (len(None)); the first one is reported
                r = next(r for r, terms in enumerate(lists) if terms is None)
                raise InvalidInput("input", "a list of strings (nulls are not accepted)", "null", row=r) from None
            terms = list(chain.from_iterable(lists))
            # Every term of the batch at once: dict lookups from C (-1 for a miss: buckets are
            # >= 0), the misses hashed one by one.
            cols = np.fromiter(map(cache.young.get, terms, repeat(-1, len(terms))), dtype=np.int64,
                               count=len(terms))
            for j in np.flatnonzero(cols < 0).tolist():
                try:
                    cols[j] = cache.lookup(terms[j])
                except InvalidInput as e:
                    e.row = int(np.searchsorted(np.cumsum(lengths), j, side="right"))
                    raise
            rows = np.repeat(np.arange(len(lists), dtype=np.int64), lengths)
            # (row, bucket) pairs counted and sorted by row then bucket, as each row's sorted(tf).
            # The pairs arrive sorted by row: a stable (merging) sort finishes them fast.
            keys, counts = _counted(np.sort(rows * size + cols, kind="stable"))
            indptr = np.zeros(len(lists) + 1, dtype=np.int64)
            np.cumsum(np.bincount(keys // size, minlength=len(lists)), out=indptr[1:])
            values = np.ones(len(keys)) if binary else counts.astype(np.float64)
            return (SparseBatch(size, indptr, keys % size, values),)
        return run


def _counted(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and how often each occurs (np.unique without its
    sort)."""
    if not len(ordered):
        return ordered, np.zeros(0, dtype=np.int64)
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    return ordered[starts], np.diff(starts, append=len(ordered))


@op("hashing_term_frequency", family="feature")
def load_hashing_term_frequency(node) -> HashingTermFrequencyModel:
    """HashingTF: term counts bucketed by MurmurHash3 (hashUnsafeBytesVersion 2, or legacy 1)."""
    attrs = node.attrs
    num_features = attrs.size("num_features")
    if num_features <= 0 or num_features >= 1 << 31:
        raise BundleError(f"attribute 'num_features' must be a positive int, found {num_features}",
                          path=attrs.where)
    version = attrs.int("hashUnsafeBytesVersion", 1)  # MLeap: absent means Spark 2's hash
    if version not in (1, 2):
        raise BundleError(f"attribute 'hashUnsafeBytesVersion' must be 1 or 2, found {version}",
                          path=attrs.where)
    cache = _TermIndexCache(lambda term: term_index(term, num_features, version), text_cache_bytes(node))
    return HashingTermFrequencyModel(num_features, attrs.boolean("binary", False), version, cache)


# --- count_vectorizer --------------------------------------------------------------------------

@dataclass(frozen=True)
class CountVectorizerModel(OpModel):
    vocabulary: tuple[str, ...]
    binary: bool
    min_tf: float
    index: dict = field(compare=False, repr=False)

    op_name = "count_vectorizer"

    def input_ports(self):
        return [("input", STRING_LIST)]

    def output_ports(self):
        return [("output", vector(len(self.vocabulary)))]

    def _counter(self):
        index, binary, min_tf = self.index, self.binary, self.min_tf
        get = index.get
        absolute = min_tf >= 1.0

        def counts(doc) -> tuple[list[int], list[float]]:
            tf: dict = {}
            for t in doc:
                i = get(t)
                if i is not None:
                    tf[i] = tf.get(i, 0) + 1
            if not tf:
                return [], []
            threshold = min_tf if absolute else len(doc) * min_tf
            idx = sorted(i for i, c in tf.items() if c >= threshold)
            return idx, ([1.0] * len(idx) if binary else [float(tf[i]) for i in idx])
        return counts

    def row_fn(self, outputs):
        counts, size = self._counter(), len(self.vocabulary)

        def run(doc):
            if doc is None:
                raise _null("input", "a list of strings")
            idx, vals = counts(doc)
            return (SparseVector(size, idx, vals),)
        return run

    def batch_fn(self, outputs):
        counts, size = self._counter(), len(self.vocabulary)

        def run(ctx, col):
            indptr, indices, values = [0], [], []
            for r, doc in enumerate(object_rows(col)):
                if doc is None:
                    raise InvalidInput("input", "a list of strings (nulls are not accepted)", "null", row=r)
                idx, vals = counts(doc)
                indices += idx
                values += vals
                indptr.append(len(indices))
            return (_csr(size, indptr, indices, values),)
        return run


@op("count_vectorizer", family="feature")
def load_count_vectorizer(node) -> CountVectorizerModel:
    """CountVectorizerModel: vocabulary counts with min_tf (absolute or fraction) and binary."""
    attrs = node.attrs
    vocabulary = tuple(attrs.string_list("vocabulary"))
    min_tf = attrs.double("min_tf", 1.0)
    if not min_tf >= 0.0:
        raise BundleError(f"attribute 'min_tf' must be >= 0, found {min_tf}", path=attrs.where)
    index = {term: i for i, term in enumerate(vocabulary)}  # a repeated term keeps its last index, as Spark's toMap
    return CountVectorizerModel(vocabulary, attrs.boolean("binary", False), min_tf, index)


# --- idf ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IDFModel(OpModel):
    idf: tuple[float, ...]
    idf_array: np.ndarray = field(compare=False, repr=False)

    op_name = "idf"

    @property
    def size(self) -> int:
        return len(self.idf)

    def input_ports(self):
        return [("input", vector(self.size))]

    def output_ports(self):
        return [("output", vector(self.size))]

    def row_fn(self, outputs):
        # A packed array: sparse term vectors index a long idf vector at random, and compact
        # doubles are much kinder to the cache than a list of float objects.
        idf, size = array("d", self.idf), self.size

        def run(x):
            if x is None:
                raise _null("input", f"a vector of size {size}")
            if isinstance(x, SparseVector):
                if x.size != size:
                    raise InvalidInput("input", f"vector of size {size}", f"vector of size {x.size}")
                return (SparseVector(size, x.indices, [v * idf[i] for i, v in zip(x.indices, x.values)]),)
            if len(x) != size:
                raise InvalidInput("input", f"vector of size {size}", f"vector of size {len(x)}")
            return ([v * w for v, w in zip(x, idf)],)
        return run

    def batch_fn(self, outputs):
        idf = self.idf_array

        def run(ctx, X):
            if X.shape[1] != self.size:
                raise InvalidInput("input", f"vectors of size {self.size}", f"vectors of size {X.shape[1]}")
            with np.errstate(invalid="ignore", over="ignore"):
                if isinstance(X, SparseBatch):
                    return (X.with_values(X.values * idf[X.indices]),)
                return (X * idf,)
        return run


@op("idf", family="feature")
def load_idf(node) -> IDFModel:
    """IDFModel: each component scaled by its inverse document frequency."""
    idf = node.attrs.vector("idf")
    return IDFModel(tuple(idf), frozen(idf))


# --- word_to_vector ----------------------------------------------------------------------------

@dataclass(frozen=True)
class WordToVectorModel(OpModel):
    vector_size: int
    kernel: str  # "default" (mean over the sentence) or "sqrt" (sum over its norm)
    vectors: dict = field(compare=False, repr=False)  # word -> tuple of floats
    word_index: dict = field(compare=False, repr=False)  # word -> row of matrix
    matrix: np.ndarray = field(compare=False, repr=False)

    op_name = "word_to_vector"

    def input_ports(self):
        return [("input", STRING_LIST)]

    def output_ports(self):
        return [("output", vector(self.vector_size))]

    def sentence_vector(self, sentence):
        d = self.vector_size
        if not sentence:
            return SparseVector(d, (), ())
        total = [0.0] * d
        get = self.vectors.get
        for word in sentence:
            v = get(word) if word is not None else None
            if v is not None:
                total = [a + b for a, b in zip(total, v)]
        if self.kernel == "sqrt":
            norm = math.sqrt(seq_dot(total, total))
            return [java_div(a, norm) for a in total]
        scale = 1.0 / len(sentence)
        return [a * scale for a in total]

    def row_fn(self, outputs):
        sentence_vector = self.sentence_vector

        def run(sentence):
            if sentence is None:
                raise InvalidInput("input", "a list of strings (nulls are not accepted)", "null")
            return (sentence_vector(sentence),)
        return run

    def batch_fn(self, outputs):
        d, index, matrix, sqrt_kernel = self.vector_size, self.word_index, self.matrix, self.kernel == "sqrt"

        def run(ctx, col):
            items = col.tolist() if isinstance(col, np.ndarray) else list(col)
            n = len(items)
            rows, words, lengths = [], [], np.zeros(n, dtype=np.float64)
            for r, sentence in enumerate(items):
                if sentence is None:
                    raise InvalidInput("input", "a list of strings (nulls are not accepted)", "null", row=r)
                lengths[r] = len(sentence)
                for w in sentence:
                    i = index.get(w) if w is not None else None
                    if i is not None:
                        rows.append(r)
                        words.append(i)
            total = np.zeros((n, d), dtype=np.float64)
            if rows:
                np.add.at(total, np.asarray(rows), matrix[np.asarray(words)])  # in sentence order
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                if sqrt_kernel:
                    out = total / np.sqrt((total * total).sum(axis=1))[:, None]
                else:
                    out = total * (1.0 / np.where(lengths > 0, lengths, 1.0))[:, None]
            empty = lengths == 0
            if empty.any():  # Spark's empty sentence gives an empty (sparse) vector
                return (SparseBatch.from_dense(np.where(empty[:, None], 0.0, out)),)
            return (out,)
        return run


@op("word_to_vector", family="feature")
def load_word_to_vector(node) -> WordToVectorModel:
    """Word2VecModel: the mean of the sentence's word vectors (or MLeap's sqrt kernel)."""
    attrs = node.attrs
    words = attrs.string_list("words")
    indices = attrs.long_list("indices", None)
    if indices is None:
        indices = list(range(len(words)))
    value = attrs.raw.get("word_vectors")
    flat = attrs.vector("word_vectors") if isinstance(value, dict) and value.get("type") != "list" \
        else attrs.double_list("word_vectors")
    kernel = attrs.string("kernel", "default") or "default"
    if kernel not in ("default", "sqrt"):
        raise BundleError(f"attribute 'kernel' must be 'default' or 'sqrt', found {kernel!r}", path=attrs.where)
    if len(indices) != len(words):
        raise BundleError(f"'words' has {len(words)} entries but 'indices' {len(indices)}", path=attrs.where)
    if not words:
        raise BundleError("attribute 'words' is empty", path=attrs.where)
    if len(flat) % len(words):
        raise BundleError(f"'word_vectors' holds {len(flat)} values, not a multiple of {len(words)} words",
                          path=attrs.where)
    d = len(flat) // len(words)
    matrix = np.asarray(flat, dtype=np.float64).reshape(len(words), d) if d else np.zeros((len(words), 0))
    vectors, index = {}, {}
    for word, i in zip(words, indices):
        if not 0 <= i < len(words):
            raise BundleError(f"word index {i} is outside [0, {len(words)})", path=attrs.where)
        vectors[word] = tuple(matrix[i].tolist())
        index[word] = i
    matrix.flags.writeable = False
    return WordToVectorModel(d, kernel, vectors, index, matrix)
