"""Every stage a Spark 3.5 pipeline can hold, and what export_bundle does with it.

The stages are pyspark.ml's public Transformer classes in the modules that hold fitted stages
(``feature``, ``classification``, ``regression``, ``clustering``, ``recommendation``, ``fpm``):
what a user's PipelineModel holds is made of these, each wrapping the JVM class of the same name
that MLeap's serializer writes. ``tests/bundler/test_spark_stages.py`` enumerates those classes
and fails when one is in neither list below, when an exported stage's parity test does not
exist or does not declare its op, or when the session's serializer registry disagrees (a refused
stage that gained an op, an exported one that lost it). docs/export.md shows ``markdown_table()``:

    python -m leapserve.bundler.spark_stages          # print the table
"""

from __future__ import annotations

from dataclasses import dataclass

MODULES = ("feature", "classification", "regression", "clustering", "recommendation", "fpm")

# how an exported stage is written
MLEAP = "mleap"  # MLeap 0.16's own Spark op
LEAPSERVE = "leapserve"  # leapserve's Spark op (bundler/jvm/spark_ops, jars.SPARK_OPS)
EQUIVALENT = "equivalent"  # rewritten as the stages MLeap writes (bundler/equivalents.py)

WRITERS = {MLEAP: "MLeap's serializer", LEAPSERVE: "leapserve's Spark op",
           EQUIVALENT: "as equivalent stages"}


@dataclass(frozen=True)
class Exported:
    """A stage export_bundle writes: ``name`` is the class under org.apache.spark.ml."""

    name: str
    writer: str
    ops: tuple[str, ...]
    parity_test: str


@dataclass(frozen=True)
class Refused:
    """A stage export_bundle refuses (naming the stage), and why."""

    name: str
    reason: str


EXPORTED = (
    Exported("classification.DecisionTreeClassificationModel", MLEAP, ("decision_tree_classifier",),
             "tests/runtime/ops/test_trees.py::test_classifiers_match_spark"),
    Exported("classification.FMClassificationModel", LEAPSERVE, ("leapserve.fm_classifier",),
             "tests/bundler/test_spark_ops.py::test_factorization_machines"),
    Exported("classification.GBTClassificationModel", MLEAP, ("gbt_classifier",),
             "tests/runtime/ops/test_trees.py::test_classifiers_match_spark"),
    Exported("classification.LinearSVCModel", MLEAP, ("linear_svc",),
             "tests/runtime/ops/test_classification_linear.py::test_linear_svc"),
    Exported("classification.LogisticRegressionModel", MLEAP, ("logistic_regression",),
             "tests/runtime/ops/test_classification_linear.py::test_binary_logistic_regression"),
    Exported("classification.MultilayerPerceptronClassificationModel", LEAPSERVE,
             ("multi_layer_perceptron_classifier",),
             "tests/bundler/test_spark_ops.py::test_multilayer_perceptron"),
    Exported("classification.NaiveBayesModel", LEAPSERVE, ("naive_bayes",),
             "tests/bundler/test_spark_ops.py::test_naive_bayes_every_model_type"),
    Exported("classification.OneVsRestModel", MLEAP, ("one_vs_rest",),
             "tests/runtime/ops/test_classification_ovr.py::test_one_vs_rest"),
    Exported("classification.RandomForestClassificationModel", MLEAP, ("random_forest_classifier",),
             "tests/runtime/ops/test_trees.py::test_classifiers_match_spark"),
    Exported("clustering.BisectingKMeansModel", MLEAP, ("bisecting_k_means",),
             "tests/runtime/ops/test_clustering.py::test_bisecting_k_means"),
    Exported("clustering.DistributedLDAModel", LEAPSERVE, ("lda_local_model_op",),
             "tests/bundler/test_spark_ops.py::test_local_lda"),
    Exported("clustering.GaussianMixtureModel", MLEAP, ("gaussian_mixture",),
             "tests/runtime/ops/test_clustering.py::test_gaussian_mixture"),
    Exported("clustering.KMeansModel", MLEAP, ("k_means",),
             "tests/runtime/ops/test_clustering.py::test_k_means_fitted"),
    Exported("clustering.LocalLDAModel", LEAPSERVE, ("lda_local_model_op",),
             "tests/bundler/test_spark_ops.py::test_local_lda"),
    Exported("feature.Binarizer", MLEAP, ("binarizer",),
             "tests/runtime/ops/test_feature_threshold.py::test_binarizer"),
    Exported("feature.BucketedRandomProjectionLSHModel", MLEAP, ("bucketed_random_projection_lsh",),
             "tests/runtime/ops/test_feature_hash.py::test_bucketed_random_projection_lsh_parity"),
    Exported("feature.Bucketizer", MLEAP, ("bucketizer",),
             "tests/runtime/ops/test_feature_threshold.py::test_bucketizer"),
    Exported("feature.ChiSqSelectorModel", MLEAP, ("chi_sq_selector",),
             "tests/runtime/ops/test_feature_select.py::test_chi_sq_selector_parity"),
    Exported("feature.CountVectorizerModel", MLEAP, ("count_vectorizer",),
             "tests/runtime/ops/test_feature_text_tokens.py::test_text_pipeline_with_one_vs_rest"),
    Exported("feature.DCT", MLEAP, ("dct",),
             "tests/runtime/ops/test_feature_vector.py::test_dct_parity"),
    Exported("feature.ElementwiseProduct", MLEAP, ("elementwise_product",),
             "tests/runtime/ops/test_feature_vector.py::test_vector_ops_parity"),
    Exported("feature.FeatureHasher", MLEAP, ("feature_hasher",),
             "tests/runtime/ops/test_feature_hash.py::test_feature_hasher_parity"),
    Exported("feature.HashingTF", MLEAP, ("hashing_term_frequency",),
             "tests/runtime/ops/test_feature_text_vectors.py::test_hashing_tf_parity"),
    Exported("feature.IDFModel", MLEAP, ("idf",),
             "tests/runtime/ops/test_feature_text_tokens.py::test_text_pipeline_with_one_vs_rest"),
    Exported("feature.ImputerModel", LEAPSERVE, ("imputer",),
             "tests/bundler/test_spark_ops.py::test_spark_imputer_one_and_several_columns"),
    Exported("feature.IndexToString", MLEAP, ("reverse_string_indexer",),
             "tests/runtime/ops/test_feature_categorical.py::test_index_to_string"),
    Exported("feature.Interaction", MLEAP, ("interaction",),
             "tests/runtime/ops/test_feature_vector.py::test_interaction_nominal_and_numeric"),
    Exported("feature.MaxAbsScalerModel", MLEAP, ("max_abs_scaler",),
             "tests/runtime/ops/test_feature_scale.py::test_scalers_and_normalizers"),
    Exported("feature.MinHashLSHModel", MLEAP, ("min_hash_lsh",),
             "tests/runtime/ops/test_feature_hash.py::test_min_hash_lsh_parity"),
    Exported("feature.MinMaxScalerModel", MLEAP, ("min_max_scaler",),
             "tests/runtime/ops/test_feature_scale.py::test_scalers_and_normalizers"),
    Exported("feature.NGram", MLEAP, ("ngram",),
             "tests/runtime/ops/test_feature_text_tokens.py::test_ngram_parity"),
    Exported("feature.Normalizer", MLEAP, ("normalizer",),
             "tests/runtime/ops/test_feature_scale.py::test_scalers_and_normalizers"),
    Exported("feature.OneHotEncoderModel", MLEAP, ("one_hot_encoder",),
             "tests/runtime/ops/test_classification_linear.py::test_composite_pipeline"),
    Exported("feature.PCAModel", MLEAP, ("pca",),
             "tests/runtime/ops/test_feature_vector.py::test_vector_ops_parity"),
    Exported("feature.PolynomialExpansion", MLEAP, ("polynomial_expansion",),
             "tests/runtime/ops/test_feature_vector.py::test_vector_ops_parity"),
    Exported("feature.RegexTokenizer", MLEAP, ("regex_tokenizer",),
             "tests/runtime/ops/test_feature_text_tokens.py::test_regex_tokenizer_parity"),
    Exported("feature.StandardScalerModel", MLEAP, ("standard_scaler",),
             "tests/runtime/ops/test_classification_linear.py::test_composite_pipeline"),
    Exported("feature.StopWordsRemover", MLEAP, ("stopwords_remover",),
             "tests/runtime/ops/test_feature_text_tokens.py::test_stopwords_remover_parity"),
    Exported("feature.StringIndexerModel", LEAPSERVE, ("string_indexer",),
             "tests/bundler/test_spark_ops.py::test_string_indexer_one_and_several_columns"),
    Exported("feature.Tokenizer", MLEAP, ("tokenizer",),
             "tests/runtime/ops/test_feature_text_vectors.py::test_tokenizer_hashing_tf_idf_pipeline"),
    Exported("feature.VectorAssembler", MLEAP, ("vector_assembler",),
             "tests/bundler/test_spark_ops.py::test_multilayer_perceptron"),
    Exported("feature.VectorIndexerModel", MLEAP, ("vector_indexer",),
             "tests/runtime/ops/test_feature_categorical.py::test_vector_indexer_parity"),
    Exported("feature.VectorSlicer", MLEAP, ("vector_slicer",),
             "tests/runtime/ops/test_feature_vector.py::test_vector_ops_parity"),
    Exported("feature.Word2VecModel", MLEAP, ("word_to_vector",),
             "tests/runtime/ops/test_feature_text_vectors.py::test_word_to_vector_parity"),
    Exported("fpm.FPGrowthModel", LEAPSERVE, ("leapserve.fp_growth",),
             "tests/bundler/test_spark_ops.py::test_fp_growth"),
    Exported("recommendation.ALSModel", MLEAP, ("als",),
             "tests/runtime/ops/test_recommendation.py::test_als_nan_strategy"),
    Exported("regression.AFTSurvivalRegressionModel", MLEAP, ("aft_survival_regression",),
             "tests/runtime/ops/test_regression_survival.py::test_aft_with_quantiles"),
    Exported("regression.DecisionTreeRegressionModel", MLEAP, ("decision_tree_regression",),
             "tests/runtime/ops/test_trees.py::test_regressors_match_spark"),
    Exported("regression.FMRegressionModel", LEAPSERVE, ("leapserve.fm_regression",),
             "tests/bundler/test_spark_ops.py::test_factorization_machines"),
    Exported("regression.GBTRegressionModel", MLEAP, ("gbt_regression",),
             "tests/runtime/ops/test_trees.py::test_regressors_match_spark"),
    Exported("regression.GeneralizedLinearRegressionModel", MLEAP, ("generalized_linear_regression",),
             "tests/runtime/ops/test_regression_linear.py::test_every_family_and_link"),
    Exported("regression.IsotonicRegressionModel", MLEAP, ("isotonic_regression",),
             "tests/runtime/ops/test_regression_isotonic.py::test_isotonic_fitted"),
    Exported("regression.LinearRegressionModel", MLEAP, ("linear_regression",),
             "tests/runtime/ops/test_feature_hash.py::test_feature_hasher_into_linear_regression"),
    Exported("regression.RandomForestRegressionModel", MLEAP, ("random_forest_regression",),
             "tests/runtime/ops/test_trees.py::test_regressors_match_spark"),
    # Spark's transform of an RFormula keeps only the assembled features (its indexers' and
    # encoder's columns are pruned), so that is what its parity test compares
    Exported("feature.RFormulaModel", EQUIVALENT, ("vector_assembler",),
             "tests/runtime/ops/test_feature_equivalents.py::test_rformula_string_label_and_interaction"),
    Exported("feature.RobustScalerModel", EQUIVALENT, ("standard_scaler",),
             "tests/runtime/ops/test_feature_equivalents.py::test_robust_scaler"),
    Exported("feature.SQLTransformer", EQUIVALENT, ("math_binary", "math_unary"),
             "tests/runtime/ops/test_sql_transformer.py::test_arithmetic_and_selection"),
    Exported("feature.UnivariateFeatureSelectorModel", EQUIVALENT, ("chi_sq_selector",),
             "tests/runtime/ops/test_feature_equivalents.py::test_variance_threshold_and_univariate_selectors"),
    Exported("feature.VarianceThresholdSelectorModel", EQUIVALENT, ("chi_sq_selector",),
             "tests/runtime/ops/test_feature_equivalents.py::test_variance_threshold_and_univariate_selectors"),
    Exported("feature.VectorSizeHint", LEAPSERVE, ("leapserve.vector_size_hint",),
             "tests/runtime/ops/test_feature_size_hint.py::test_size_checked_before_an_assembler"),
)

REFUSED = (
    Refused("clustering.LDAModel",
            "no stage of its own: the base class of LocalLDAModel and DistributedLDAModel, which LDA.fit "
            "returns (both exported)"),
)


def stages() -> dict[str, Exported | Refused]:
    """Class name (under org.apache.spark.ml) -> its entry."""
    return {entry.name: entry for entry in (*EXPORTED, *REFUSED)}


def java_class(name: str) -> str:
    return "org.apache.spark.ml." + name


def markdown_table() -> str:
    lines = ["| Spark stage | exported | op(s) in the bundle | parity test, or why not |", "|---|---|---|---|"]
    for name, entry in sorted(stages().items()):
        if isinstance(entry, Exported):
            ops = ", ".join(f"`{op}`" for op in entry.ops)
            lines.append(f"| `{name}` | yes, {WRITERS[entry.writer]} | {ops} | `{entry.parity_test}` |")
        else:
            lines.append(f"| `{name}` | **no** | | {entry.reason} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
