"""Parity with Spark 3.5: hashing_term_frequency, count_vectorizer, idf, word_to_vector, and text pipelines
from the tokenizer to term vectors (with Java's lowercasing, which the tokenizer applies, against the JVM)."""

import pytest
import json
import math
import random
import zipfile

import numpy as np

from pyspark.ml import Pipeline
from pyspark.ml.feature import IDF, CountVectorizer, HashingTF, Tokenizer, VectorAssembler, Word2Vec
from pyspark.ml.linalg import Vectors
from pyspark.ml.regression import LinearRegression
from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType

from tests.support.frames import vector_frame
from tests.support.handmade import node, write_bundle
from tests.support.parity import assert_parity, assert_same_layout, parity_with_errors, spark_outcomes
from leapserve.runtime import BundleError, ScoringError, load_bundle
from leapserve.runtime.jvm.text import java_lower, python_lowers_otherwise
from leapserve.runtime.ops.feature_text_vectors import _TermIndexCache, term_index
from leapserve.runtime.vectors import SparseVector

# Edge cases for every text test: empty, whitespace only, Java's whitespace set (\s is ASCII only:
# no-break and other Unicode spaces do not split), leading/trailing/repeated separators, repeated
# tokens, non-ASCII case mapping including the final sigma, and characters Java 17 does not know.
TEXTS = [
    "Hello world hello", "", " ", "   ", "\t\n", "a  b", "  leading", "trailing  ", "  both  ",
    "A\tB\nC\rD\x0bE\x0cF", "no\u00a0break", "em\u2003space", "nel\u0085x", "file\x1cseparator",
    "the the THE The", "Stra\u00dfe \u00c9COLE \u0130stanbul", "\u039f\u0394\u039f\u03a3 \u03a3\u0391\u03a3",
    "\u0391\u03a31 \u03a3.\u0391 \u0391\u03a3' x\u03a3\u0301", "\u65e5\u672c\u8a9e \u30c6\u30ad\u30b9\u30c8",
    "\U0001F600 Smile \U0001F600", "\u2c2f\u2c2f \ua7c0", "\U00010400\u03a3 \U0001D400.\u03a3", "new words unseen zzz",
]
CORPUS = ["hello world", "the quick brown fox", "the lazy dog", "hello hello the fox", "stra\u00dfe world",
          "\u03bf\u03b4\u03bf\u03c2 dog", "", "b a", "quick quick quick"]


def text_frame(spark, texts, column="text"):
    return spark.createDataFrame([(i, t) for i, t in enumerate(texts)], f"rid int, {column} string")


def tokens_frame(spark, docs):
    schema = StructType([StructField("rid", IntegerType()), StructField("tokens", ArrayType(StringType()))])
    return spark.createDataFrame(list(enumerate(docs)), schema)


# --- lowercasing (Java's rules, which the tokenizer applies) -----------------------------------

def test_java_lower_matches_the_jvm(spark):
    lower = spark._jvm.org.apache.commons.lang3.StringUtils.lowerCase  # String.toLowerCase()
    fixed = TEXTS + ["\u03a3", "a\u03a3", "a\u03a3b", "a\u03a3.", "a\u03a3.b", "1\u0345\u03a3\u2019A",
                     "\u1f88\u03a3\u0301\u05d0", "\u037a\u03a3", "\u1d2c\u03a3", "\u03a3\u03a3", "\U0001D400\u03a3",
                     "\U00010400\u03a3%a", "x\u200b\u03a3", "\u00ad\u03a3\u00ad", "A\u03a3\u2160"]
    fixed.append("".join(sorted(python_lowers_otherwise())))  # letters Java 17 does not know, kept as they are
    for text in fixed:
        assert java_lower(text) == lower(text), repr(text)
    alphabet = list("aZ1 .,'\"-_%&#$\t\n\r") + ["\u0301", "\u200b", "\u00ad", "\u0964", "\u30a2", "\u3042",
                                                "\u4e00", "\u3099", "\u2027", "\u066b", "\u03a3", "\u03a3", "\u0345",
                                                "\u2160", "\u00a0", "\u20ac", "\u2028", "\u05d0", "\u0903",
                                                "\u037a", "\u1d2c", "\u02b0", "\u00df", "\u1f88", "\u0130", "\u2c2f"]
    rng = random.Random(11)
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
        assert java_lower(text) == lower(text), repr(text)


# --- hashing_term_frequency --------------------------------------------------------------------

DOCS = [["a", "b", "a"], [], [""], ["", "", "x"], ["hello", None, "hello"], [None, None],
        ["stra\u00dfe", "\u03c3\u03bf\u03c6\u03af\u03b1", "\u65e5\u672c", "\U0001F600"], ["x"] * 7,
        [f"t{i}" for i in range(40)]]


@pytest.mark.parity("hashing_term_frequency")
def test_hashing_tf_parity(spark, tmp_path):
    """Collisions (32 buckets), binary, the default 2^18 buckets; null items; a null list is refused."""
    variants = [(32, False), (32, True), (1 << 18, False)]
    model = Pipeline(stages=[HashingTF(inputCol="tokens", outputCol=f"tf{k}", numFeatures=n, binary=binary)
                             for k, (n, binary) in enumerate(variants)]).fit(tokens_frame(spark, DOCS))
    report = parity_with_errors(model, tokens_frame(spark, DOCS), tokens_frame(spark, [None]), tmp_path)
    out = report.pipelines["json"].transform({"tokens": ["a", "b", "a"]})
    for k, (n, binary) in enumerate(variants):
        assert isinstance(out[f"tf{k}"], SparseVector) and out[f"tf{k}"].size == n
        assert sorted(out[f"tf{k}"].values) == ([1.0, 1.0] if binary else [1.0, 2.0])
    # MLeap 0.16 omits the hash version; the export records the one Spark 3 used.
    with zipfile.ZipFile(report.bundles["json"]) as z:
        for name in z.namelist():
            if name.endswith("model.json") and name != "root/model.json":
                assert json.loads(z.read(name))["attributes"]["hashUnsafeBytesVersion"] == {"int": 2}


def test_hashing_tf_hashes_items_as_strings(spark, tmp_path):
    """The input is list<string> (MLeap's contract): numbers in the list are cast to their JVM
    string form and hashed as strings. (Spark would hash an array<int> column's numbers with
    hashInt; such a HashingTF does not score like Spark: documented in feature_text_vectors.)"""
    model = HashingTF(inputCol="tokens", outputCol="tf", numFeatures=50)
    report = assert_parity(model, tokens_frame(spark, [["1", "2.5"]]), tmp_path, formats=("json",))
    pipeline = report.pipelines["json"]
    assert pipeline.transform({"tokens": [1, 2.5, None]})["tf"] == pipeline.transform({"tokens": ["1", "2.5", None]})["tf"]
    out = pipeline.transform({"tokens": [None]})["tf"]
    assert out.indices == (42 % 50,)  # a null term hashes to the seed, as in Spark


def _legacy_bundle(path, fmt_dir, num_features, binary):
    """A hashing_term_frequency bundle as Spark 2 era writers left it: no hashUnsafeBytesVersion."""
    root = path / fmt_dir / "root"
    root.mkdir(parents=True)
    (path / fmt_dir / "bundle.json").write_text(json.dumps(
        {"uid": "0b0c8f7e-3b7a-4a52-9a3e-6f1f2b9f8d11", "name": "legacy", "format": "json", "version": "0.16.0",
         "timestamp": "2020-01-01T00:00:00.000"}))
    attrs = {"num_features": {"long": num_features}}
    if binary:
        attrs["binary"] = {"boolean": True}
    (root / "model.json").write_text(json.dumps({"op": "hashing_term_frequency", "attributes": attrs}))
    (root / "node.json").write_text(json.dumps(
        {"name": "htf", "shape": {"inputs": [{"port": "input", "name": "tokens"}],
                                  "outputs": [{"port": "output", "name": "tf"}]}}))
    return path / fmt_dir


def test_hashing_tf_legacy_hash_version(spark, mleap_jvm, tmp_path):
    """Without hashUnsafeBytesVersion a bundle means Spark 2's hash (MLeap's reading): check it
    against Spark's legacy Murmur3_x86_32.hashUnsafeBytes and against MLeap's own runtime."""
    jvm = spark._jvm
    murmur = jvm.org.apache.spark.unsafe.hash.Murmur3_x86_32
    offset = jvm.org.apache.spark.unsafe.Platform.BYTE_ARRAY_OFFSET
    docs = [["a", "bb", "ccc", "dddd", "a"], ["stra\u00dfe", "\u00e9t\u00e9", "\u65e5\u672c\u8a9e"], [],
            ["\U0001F600", "x" * 9]]
    n = 1000
    bundle = _legacy_bundle(tmp_path, "legacy", n, binary=False)
    pipeline = load_bundle(bundle)
    batch = pipeline.transform_batch({"tokens": docs})
    for r, doc in enumerate(docs):
        expected = {}
        for term in doc:
            data = bytearray(term.encode("utf-8"))
            i = murmur.hashUnsafeBytes(data, offset, len(data), 42) % n
            expected[i] = expected.get(i, 0.0) + 1.0
        got = pipeline.transform({"tokens": doc})["tf"]
        assert dict(zip(got.indices, got.values)) == expected
        assert batch["tf"].row(r) == got
    assert term_index("a", n, 1) != term_index("a", n, 2)  # the versions really differ here
    frame = {"schema": {"fields": [{"name": "tokens", "type": {"type": "list", "base": "string"}}]},
             "rows": [[d] for d in docs]}
    scored = mleap_jvm.score(bundle, frame)
    names = [f["name"] for f in scored["schema"]["fields"]]
    for row, doc in zip(scored["rows"], docs):
        tf = row[names.index("tf")]
        mleap = {i[0]: v for i, v in zip(tf["indices"], tf["values"])}
        got = pipeline.transform({"tokens": doc})["tf"]
        assert dict(zip(got.indices, got.values)) == mleap


def test_term_cache_eviction_keeps_answers():
    cache = _TermIndexCache(lambda t: term_index(t, 97, 2), 1 << 20, limit=8)
    terms = [f"w{i % 23}" for i in range(500)] + [None]
    for t in terms:
        i = cache.young.get(t)
        assert (cache.lookup(t) if i is None else i) == term_index(t, 97, 2)
    assert len(cache.young) <= 8 and len(cache.old) <= 8


# --- count_vectorizer --------------------------------------------------------------------------

CV_TRAIN = [["a", "b", "c", "a"], ["a", "b"], ["b", "c", "d"], ["e", "a", "a", "a"], ["d", "\u00e9t\u00e9"]]
CV_ROWS = [["a", "b", "c", "a"], ["a", "a", "a", "b", "zz", "zz", "zz", "zz"], [], ["zz", "yy"],
           ["a", None, "b"], ["\u00e9t\u00e9", "\u00e9t\u00e9", "a"], ["a"] * 3 + ["b"] * 2 + ["c"], ["", "a"]]


@pytest.mark.parity("count_vectorizer")
def test_count_vectorizer_parity(spark, tmp_path):
    """min_tf absolute (1, 2) and as a fraction of all tokens, out-of-vocabulary ones included
    (0.3, 0.0); binary; null items; a null list is refused."""
    variants = [(1.0, False), (2.0, False), (0.3, False), (0.3, True), (0.0, True)]
    model = Pipeline(stages=[CountVectorizer(inputCol="tokens", outputCol=f"counts{k}", minTF=min_tf, binary=binary,
                                             vocabSize=5)
                             for k, (min_tf, binary) in enumerate(variants)]).fit(tokens_frame(spark, CV_TRAIN))
    parity_with_errors(model, tokens_frame(spark, CV_ROWS), tokens_frame(spark, [None]), tmp_path)


# --- idf ---------------------------------------------------------------------------------------

@pytest.mark.parity("idf")
def test_idf_dense_and_sparse(spark, tmp_path):
    train = vector_frame(spark, [Vectors.dense([1.0, 0.0, 3.0, 0.0]), Vectors.dense([0.0, 2.0, 1.0, 0.0]),
                                 Vectors.sparse(4, [2], [5.0]), Vectors.dense([1.0, 1.0, 1.0, 0.0])], column="v")
    model = Pipeline(stages=[IDF(inputCol="v", outputCol="w0", minDocFreq=0),
                             IDF(inputCol="v", outputCol="w2", minDocFreq=2)]).fit(train)  # idf 0 below 2 docs
    rows = vector_frame(spark, [
        Vectors.dense([1.0, 2.0, 3.0, 4.0]), Vectors.sparse(4, [0, 3], [2.0, 0.0]),
        Vectors.sparse(4, [], []), Vectors.dense([float("nan"), 0.0, -1.0, float("inf")]),
        Vectors.sparse(4, [1, 3], [float("inf"), float("nan")])], column="v")
    bad = vector_frame(spark, [Vectors.dense([1.0, 2.0, 3.0, 4.0, 5.0]),  # longer than idf
                               None], column="v", first=5)                # null
    report = parity_with_errors(model, rows, bad, tmp_path)
    out = report.pipelines["json"].transform({"v": SparseVector(4, [0, 3], [2.0, 0.0])})
    assert isinstance(out["w2"], SparseVector) and out["w2"].indices == (0, 3)  # stored entries kept


# --- text pipelines ----------------------------------------------------------------------------

@pytest.mark.parity("tokenizer", "hashing_term_frequency", "idf")
def test_tokenizer_hashing_tf_idf_pipeline(spark, tmp_path):
    """Tokens (compared exactly), term frequencies and tf-idf for every edge case in TEXTS."""
    train = text_frame(spark, CORPUS)
    model = Pipeline(stages=[Tokenizer(inputCol="text", outputCol="tokens"),
                             HashingTF(inputCol="tokens", outputCol="tf", numFeatures=64),
                             IDF(inputCol="tf", outputCol="tfidf", minDocFreq=1)]).fit(train)
    report = parity_with_errors(model, text_frame(spark, TEXTS), text_frame(spark, [None]), tmp_path)
    assert report.compared == 2 * 3 * len(TEXTS)


# The edge cases a batch takes the tokenizer's str.split path with: ASCII, and no whitespace but
# the space (one such character anywhere sends the whole batch through the regular expression).
SPACE_TEXTS = [t for t in TEXTS if t.isascii() and not any(ch in t for ch in "\t\n\r\x0b\x0c")]


@pytest.mark.parity("tokenizer", "hashing_term_frequency")
def test_tokenizer_space_only_batch(spark, tmp_path):
    """Empty, blank, repeated, leading and trailing spaces in a batch of space-only ASCII text:
    the same tokens as Spark's tokenizer, row by row and in the batch path's str.split."""
    assert len(SPACE_TEXTS) >= 9 and "" in SPACE_TEXTS and "  both  " in SPACE_TEXTS
    model = Pipeline(stages=[Tokenizer(inputCol="text", outputCol="tokens"),
                             HashingTF(inputCol="tokens", outputCol="tf", numFeatures=64)]).fit(text_frame(spark, CORPUS))
    report = assert_parity(model, text_frame(spark, SPACE_TEXTS), tmp_path)
    assert report.compared == 2 * 2 * len(SPACE_TEXTS)


@pytest.mark.parity("tokenizer", "count_vectorizer", "idf")
def test_tokenizer_count_vectorizer_idf_pipeline(spark, tmp_path):
    train = text_frame(spark, CORPUS)
    model = Pipeline(stages=[Tokenizer(inputCol="text", outputCol="tokens"),
                             CountVectorizer(inputCol="tokens", outputCol="tf", minTF=0.2),
                             IDF(inputCol="tf", outputCol="tfidf")]).fit(train)
    rows = text_frame(spark, TEXTS + CORPUS)
    report = assert_parity(model, rows, tmp_path)
    assert report.compared == 2 * 3 * (len(TEXTS) + len(CORPUS))
    assert_same_layout(report, rows)


@pytest.mark.parity("tokenizer", "hashing_term_frequency", "idf", "vector_assembler", "linear_regression")
def test_text_features_into_linear_regression(spark, tmp_path):
    train = spark.createDataFrame([(t, float(len(t)), float(i % 3)) for i, t in enumerate(CORPUS)],
                                  "text string, n double, y double")
    model = Pipeline(stages=[Tokenizer(inputCol="text", outputCol="tokens"),
                             HashingTF(inputCol="tokens", outputCol="tf", numFeatures=16),
                             IDF(inputCol="tf", outputCol="tfidf"),
                             VectorAssembler(inputCols=["tfidf", "n"], outputCol="features"),
                             LinearRegression(labelCol="y", regParam=0.1)]).fit(train)
    rows = spark.createDataFrame([(i, t, float(len(t))) for i, t in enumerate(TEXTS)], "rid int, text string, n double")
    report = assert_parity(model, rows, tmp_path)
    assert report.compared > 0


# --- word_to_vector ------------------------------------------------------------------------

def sentences_frame(spark, docs):
    schema = StructType([StructField("rid", IntegerType()), StructField("words", ArrayType(StringType()))])
    return spark.createDataFrame(list(enumerate(docs)), schema)


@pytest.mark.parity("word_to_vector")
def test_word_to_vector_parity(spark, tmp_path):
    corpus = [s.split() for s in ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog",
                                  "cats and dogs and mats", "the mat and the log"]]
    model = Word2Vec(inputCol="words", outputCol="vec", vectorSize=6, minCount=1, seed=7, maxIter=2) \
        .fit(sentences_frame(spark, corpus))
    docs = [["the", "cat"], [], ["unseen"], ["cat", "unseen", "zzz"], ["the"] * 5, ["dog", None, "cat"], ["CAT"],
            ["mat", "log", "and", "a", "dog", "sat", "on"]]
    report = assert_parity(model, sentences_frame(spark, docs), tmp_path)
    assert report.errors == 0 and report.compared == 2 * len(docs)
    pipeline = report.pipelines["protobuf"]
    assert pipeline.transform({"words": []})["vec"] == SparseVector(6, [], [])  # Spark: empty sparse
    with pytest.raises(ScoringError):
        pipeline.transform({"words": None})
    assert set(spark_outcomes(model, sentences_frame(spark, [None])).values()) == {"error"}


def test_word_to_vector_sqrt_kernel_and_tensor_vectors(tmp_path):
    """MLeap's own writer can record kernel "sqrt" (sum over its L2 norm) and word vectors as a
    tensor; indices may be absent (words in order)."""
    vectors = [[1.0, 2.0], [3.0, -4.0], [0.0, 0.0]]
    attrs = {"words": {"type": "list", "string": ["a", "b", "z"]},
             "word_vectors": {"type": "list", "double": [x for v in vectors for x in v]},
             "kernel": {"string": "sqrt"}}
    tensor_attrs = dict(attrs, word_vectors={"type": "tensor", "double": [x for v in vectors for x in v],
                                             "shape": {"dimensions": [{"size": 6, "name": ""}]}})
    for name, a in (("list", attrs), ("tensor", tensor_attrs)):
        pipe = load_bundle(write_bundle(tmp_path / name, "json",
                                        [node("w", "word_to_vector", a, inputs=[("input", "s")],
                                              outputs=[("output", "v")])]))
        s = [1.0 + 3.0 + 1.0, 2.0 - 4.0 + 2.0]  # a, b, a
        norm = math.sqrt(s[0] ** 2 + s[1] ** 2)
        assert pipe.transform({"s": ["a", "b", "a", "?"]})["v"].tolist() == [s[0] / norm, s[1] / norm]
        got = pipe.transform({"s": ["z"]})["v"]  # a zero sum over its zero norm: NaN, as the JVM divides
        assert all(math.isnan(x) for x in got)
        assert pipe.transform({"s": []})["v"] == SparseVector(2, [], [])
        batch = pipe.transform_batch({"s": [["a", "b", "a", "?"], ["z"], []]})["v"]
        assert np.allclose(batch.toarray()[0], [s[0] / norm, s[1] / norm])
    default = dict(attrs, kernel={"string": "default"})
    pipe = load_bundle(write_bundle(tmp_path / "default", "protobuf",
                                    [node("w", "word_to_vector", default, inputs=[("input", "s")],
                                          outputs=[("output", "v")])]))
    assert pipe.transform({"s": ["a", "b", "?", "?"]})["v"].tolist() == [4.0 * 0.25, -2.0 * 0.25]
    with pytest.raises(BundleError, match="kernel"):
        load_bundle(write_bundle(tmp_path / "bad", "json", [node("w", "word_to_vector",
                                                                 dict(attrs, kernel={"string": "max"}),
                                                                 inputs=[("input", "s")], outputs=[("output", "v")])]))
