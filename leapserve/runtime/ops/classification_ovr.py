"""one_vs_rest: Spark's OneVsRestModel over binary classifiers model0 .. model{K-1}.

As Spark 3.5's transform (the JVM model and PySpark's, which re-implements it): classifier i
contributes ``rawPrediction[1]`` of its own raw prediction (logistic regression and linear SVC:
the margin; naive Bayes: the class-1 log-likelihood; trees: the class-1 count or vote; GBT: the
margin); raw_prediction is the vector of those K values and prediction their argmax (the first
largest; NaN never wins). MLeap's runtime instead ranks probabilistic classifiers by
``probability[1]`` and others by their 0/1 prediction, which can pick another class (naive Bayes,
trees, linear SVC); we follow Spark.

MLeap's Spark writer emits the ports raw_prediction and prediction. MLeap's spark-extension
OneVsRest also writes a ``probability`` port (a scalar: the winning ``probability[1]``), whose
prediction follows MLeap's rule rather than Spark's; such bundles are refused.

Sub-models load through their own registered loaders (from folders model0, model1, ...); any
classifier exposing Spark's ``predictRaw`` works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import registry
from ..errors import BundleError, UnsupportedOpError
from ..jvm.jmath import seq_dot
from ..model import OpModel, ProbabilisticClassifier, check_batch_width, check_vector
from ..registry import op
from ..types import DOUBLE, vector
from ..vectors import argmax, argmax_rows
from .classification_linear import MarginClassifier


@dataclass(frozen=True, eq=False)
class OneVsRestModel(OpModel):
    classifiers: tuple[ProbabilisticClassifier, ...]
    num_features: int

    op_name = "one_vs_rest"
    discrete_outputs = frozenset({"prediction"})

    @property
    def num_classes(self) -> int:
        return len(self.classifiers)

    def input_ports(self):
        return [("features", vector(self.num_features))]

    def output_ports(self):
        return [("raw_prediction", vector(self.num_classes)), ("prediction", DOUBLE)]

    def predict_raw(self, x) -> list[float]:
        return [c.predict_raw_positive(x) for c in self.classifiers]

    def row_fn(self, outputs):
        size = self.num_features
        raw_fns = [c.predict_raw_positive for c in self.classifiers]
        order = tuple(outputs)
        if all(isinstance(c, MarginClassifier) for c in self.classifiers):
            # Linear classifiers (the usual case): their margins inline, a dense row without a
            # call per classifier; the same products summed in the same order as their dot.
            linear = tuple((c.coefficients, c.intercept) for c in self.classifiers)

            def raw_of(x):
                if type(x) is list:
                    return [seq_dot(x, w) + b for w, b in linear]
                return [f(x) for f in raw_fns]
        else:
            def raw_of(x):
                return [f(x) for f in raw_fns]

        def run(x):
            check_vector("features", x, size)
            raw = raw_of(x)
            if order == ("prediction",):
                return (float(argmax(raw)),)
            if order == ("raw_prediction",):
                return (raw,)
            return (raw, float(argmax(raw)))
        return run

    def batch_fn(self, outputs):
        order = tuple(outputs)
        size = self.num_features

        def run(ctx, X):
            check_batch_width("features", X, size)
            n = X.shape[0]
            raw = np.empty((n, self.num_classes))
            if n == 0:
                values = {"raw_prediction": raw, "prediction": np.zeros(0)}
                return tuple(values[o] for o in order)
            for i, c in enumerate(self.classifiers):
                raw[:, i] = np.asarray(c.predict_raw_batch(X))[:, 1]
            values = {"raw_prediction": raw, "prediction": argmax_rows(raw).astype(np.float64)}
            return tuple(values[o] for o in order)
        return run


@op("one_vs_rest", family="classification")
def load_one_vs_rest(node) -> OneVsRestModel:
    """One-vs-rest: argmax over the classifiers' rawPrediction[1] (Spark's rule)."""
    attrs = node.attrs
    if any(s.port == "probability" for s in getattr(node, "outputs", ())):
        raise BundleError("this one_vs_rest node writes a 'probability' port: it was written by MLeap's "
                          "spark-extension OneVsRest, whose prediction rule (by probability[1]) is not "
                          "Spark's; only Spark's OneVsRestModel is supported", path=node.where())
    k = attrs.long("num_classes")
    num_features = attrs.size("num_features")
    if k < 1 or num_features < 0:
        raise BundleError(f"num_classes {k} and num_features {num_features}: need at least one class",
                          path=attrs.where)
    classifiers = []
    for i in range(k):
        sub = node.sub_model(f"model{i}")
        sub.name = f"{getattr(node, 'name', 'one_vs_rest')}/model{i}"  # tree loaders name their code
        info = registry.lookup(sub.op)
        if info is None:
            raise UnsupportedOpError(sub.op, sub.name, sub.where())
        try:
            model = info.loader(sub)
        except BundleError:
            raise
        except Exception as e:
            raise BundleError(f"sub-model model{i} (op {sub.op!r}) cannot be loaded: {type(e).__name__}: {e}",
                              path=sub.where()) from None
        if not isinstance(model, ProbabilisticClassifier):
            raise BundleError(f"sub-model model{i} has op {sub.op!r}, not a classifier with a raw prediction",
                              path=sub.where())
        if model.num_classes < 2:
            raise BundleError(f"sub-model model{i} has {model.num_classes} class(es); one-vs-rest reads "
                              f"rawPrediction[1]", path=sub.where())
        if model.num_features != num_features:
            raise BundleError(f"sub-model model{i} reads {model.num_features} features, the model "
                              f"{num_features}", path=sub.where())
        classifiers.append(model)
    return OneVsRestModel(tuple(classifiers), num_features)
