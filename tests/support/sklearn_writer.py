"""Run inside the scikit-learn + MLeap virtual environment (tests/support/sklearn_mleap.py), not in
leapserve's: fits small scikit-learn pipelines, writes each as a bundle with MLeap's Python package,
and records scikit-learn's own output for the same rows.

    python sklearn_writer.py OUT_DIR

OUT_DIR gets NAME.zip per bundle and expected.json: {NAME: {"inputs": {column: [values]},
"output": column, "sklearn": [scikit-learn's output per row]}}. Imports nothing from leapserve.
"""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import mleap.sklearn.ensemble.forest  # noqa: F401  (adds serialize_to_bundle to the estimators)
import mleap.sklearn.pipeline  # noqa: F401
from mleap.sklearn.preprocessing.data import FeatureExtractor
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Binarizer

# Rows scored by every side: zeros, values at and around the thresholds, negatives, NaN-free.
FRAME = pd.DataFrame({
    "a": [0.0, 0.3, 0.30000000000000004, -1.5, 2.0, 0.1, -0.5, 7.25],
    "b": [1.0, 0.0, -0.5, 0.3, 0.29, 4.0, -0.5, 0.0],
    "c": [0.0, 0.0, 3.0, -2.0, 0.5, 0.0, 1e-300, -1e-300],
})


def write(pipeline, out: Path, name: str) -> None:
    pipeline.serialize_to_bundle(str(out), name, init=True)  # NAME/ and NAME.zip


def binarizer_vector(out: Path, threshold: float) -> tuple:
    features = FeatureExtractor(input_scalars=["a", "b", "c"], output_vector="features")
    binarizer = Binarizer(threshold=threshold)
    binarizer.mlinit(features, output_features="binarized")
    pipeline = Pipeline([(features.name, features), (binarizer.name, binarizer)])
    pipeline.mlinit()
    pipeline.fit(FRAME)
    expected = pipeline.transform(FRAME)
    return pipeline, "binarized", [list(map(float, row)) for row in np.asarray(expected)]


def binarizer_scalar(out: Path) -> tuple:
    # MLeap's mlinit gives the binarizer a scalar input when the stage before it is no
    # vector_assembler: here a stand-in for "column a as it is"
    column_a = SimpleNamespace(op="column", output_features="a")
    binarizer = Binarizer(threshold=0.3)
    binarizer.mlinit(column_a, output_features="a_binarized")
    pipeline = Pipeline([(binarizer.name, binarizer)])
    pipeline.mlinit()
    expected = binarizer.fit_transform(FRAME[["a"]].to_numpy())
    return pipeline, "a_binarized", [float(v) for v in np.asarray(expected).ravel()]


def random_forest(out: Path) -> tuple:
    rng = np.random.default_rng(15)
    X = rng.normal(size=(200, 3))
    y = 2.0 * X[:, 0] - X[:, 1] ** 2 + np.sin(3 * X[:, 2]) + rng.normal(scale=0.1, size=200)
    features = FeatureExtractor(input_scalars=["a", "b", "c"], output_vector="features")
    forest = RandomForestRegressor(n_estimators=7, max_depth=5, random_state=15)
    forest.mlinit(input_features="features", prediction_column="prediction", feature_names=["a", "b", "c"])
    pipeline = Pipeline([(features.name, features), (forest.name, forest)])
    pipeline.mlinit()
    pipeline.fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    return pipeline, "prediction", [float(v) for v in pipeline.predict(FRAME)]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    made = {
        "binarizer_vector": binarizer_vector(out, 0.3),
        "binarizer_vector_negative": binarizer_vector(out, -0.5),
        "binarizer_scalar": binarizer_scalar(out),
        "random_forest_regressor": random_forest(out),
    }
    expected = {}
    for name, (pipeline, column, values) in made.items():
        write(pipeline, out, name)
        expected[name] = {"inputs": {c: [float(v) for v in FRAME[c]] for c in FRAME},
                          "output": column, "sklearn": values}
    Path(out, "expected.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
