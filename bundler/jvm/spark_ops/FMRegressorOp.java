package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.regression.FMRegressionModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * leapserve.fm_regression: Spark's FMRegressionModel (MLeap has no op for factorization machines):
 * intercept, linear and factors [num_features, factor_size].
 */
public final class FMRegressorOp extends FactorizationMachineOp<FMRegressionModel> {
    public FMRegressorOp() {
        super(FMRegressionModel.class, "leapserve.fm_regression");
    }

    protected List<ParamSpec> outputs(FMRegressionModel stage) {
        return List.of(new SimpleParamSpec("prediction", stage.predictionCol()));
    }

    protected Model store(Model model, FMRegressionModel stage, Dataset<Row> dataset) {
        return withFactorizationMachine(model, stage.intercept(), stage.linear(), stage.factors());
    }
}
