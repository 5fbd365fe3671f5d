"""Classification example: the species of a penguin from its island, sex and measurements.

    island -> StringIndexer ┐
    sex    -> StringIndexer ┴ (keep: sex has nulls) -> OneHotEncoder ┐
    bill, flipper, body mass ───────────────────────────────────────┴ VectorAssembler
      -> StandardScaler -> LogisticRegression (3 species) -> IndexToString (species name)

The label is indexed by a StringIndexer fitted outside the exported pipeline: serving never sees
a label, and IndexToString turns the predicted index back into the species name.
"""

from __future__ import annotations

from ._data import load_penguins

NAME = "penguins_species"
MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def train(spark):
    """Fit the pipeline on the penguins; returns (PipelineModel, sample DataFrame)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import (IndexToString, OneHotEncoder, StandardScaler, StringIndexer,
                                    VectorAssembler)

    data = load_penguins(spark)
    label_indexer = StringIndexer(inputCol="species", outputCol="label").fit(data)
    training = label_indexer.transform(data)
    pipeline = Pipeline(stages=[
        StringIndexer(inputCol="island", outputCol="island_index"),
        StringIndexer(inputCol="sex", outputCol="sex_index", handleInvalid="keep"),
        OneHotEncoder(inputCols=["island_index", "sex_index"], outputCols=["island_vec", "sex_vec"]),
        VectorAssembler(inputCols=["island_vec", "sex_vec"] + MEASUREMENTS, outputCol="raw_features"),
        StandardScaler(inputCol="raw_features", outputCol="features"),
        LogisticRegression(featuresCol="features", labelCol="label", maxIter=100, regParam=0.01),
        IndexToString(inputCol="prediction", outputCol="predicted_species", labels=label_indexer.labels),
    ])
    model = pipeline.fit(training)
    return model, data


def write(out_dir):
    """Train, then save the Spark model, the sample and both bundles under out_dir/penguins_species/."""
    from ._write import write_example

    return write_example(NAME, train, out_dir)
