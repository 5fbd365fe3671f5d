package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.PredictionModel;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.linalg.Matrix;
import org.apache.spark.ml.linalg.Vector;

/**
 * Base of {@link FMClassifierOp} and {@link FMRegressorOp}: the input port and the attributes both of
 * Spark's factorization machine models hold. Spark declares intercept, linear and factors on each
 * model class, with no common type, so each op passes them to {@link #withFactorizationMachine}.
 */
abstract class FactorizationMachineOp<N extends PredictionModel<Vector, N>> extends WrittenOp<N> {
    FactorizationMachineOp(Class<N> sparkClass, String opName) {
        super(sparkClass, opName);
    }

    protected List<ParamSpec> inputs(N stage) {
        return featuresInput(stage);
    }

    /** intercept, linear and factors [num_features, factor_size]. */
    protected static Model withFactorizationMachine(Model model, double intercept, Vector linear, Matrix factors) {
        model = with(model, "intercept", doubleValue(intercept));
        model = with(model, "linear", vector(linear.toArray()));
        return with(model, "factors", matrix(factors));
    }
}
