"""Regression example: the body mass of a penguin from its flipper length, species, island and bill.

    flipper_length_mm -> Bucketizer ──────────────────────┐
    species, island   -> StringIndexer -> OneHotEncoder ──┤
    bill length, bill depth ──────────────────────────────┴ VectorAssembler -> GBTRegressor
"""

from __future__ import annotations

from ._data import load_penguins

NAME = "penguins_mass"
FLIPPER_SPLITS = [float("-inf"), 190.0, 200.0, 210.0, 220.0, float("inf")]


def train(spark):
    """Fit the pipeline on the penguins; returns (PipelineModel, sample DataFrame)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import Bucketizer, OneHotEncoder, StringIndexer, VectorAssembler
    from pyspark.ml.regression import GBTRegressor

    data = load_penguins(spark)
    pipeline = Pipeline(stages=[
        Bucketizer(inputCol="flipper_length_mm", outputCol="flipper_bucket", splits=FLIPPER_SPLITS),
        StringIndexer(inputCol="species", outputCol="species_index"),
        StringIndexer(inputCol="island", outputCol="island_index"),
        OneHotEncoder(inputCols=["species_index", "island_index"], outputCols=["species_vec", "island_vec"]),
        VectorAssembler(inputCols=["flipper_bucket", "species_vec", "island_vec", "bill_length_mm",
                                   "bill_depth_mm"], outputCol="features"),
        GBTRegressor(featuresCol="features", labelCol="body_mass_g", predictionCol="predicted_mass_g",
                     maxIter=20, maxDepth=3, seed=7),
    ])
    model = pipeline.fit(data)
    return model, data


def write(out_dir):
    """Train, then save the Spark model, the sample and both bundles under out_dir/penguins_mass/."""
    from ._write import write_example

    return write_example(NAME, train, out_dir)
