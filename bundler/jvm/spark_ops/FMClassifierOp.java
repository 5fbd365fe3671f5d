package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.classification.FMClassificationModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * leapserve.fm_classifier: Spark's FMClassificationModel (MLeap has no op for factorization
 * machines): intercept, linear, factors [num_features, factor_size] and thresholds when set.
 */
public final class FMClassifierOp extends FactorizationMachineOp<FMClassificationModel> {
    public FMClassifierOp() {
        super(FMClassificationModel.class, "leapserve.fm_classifier");
    }

    protected List<ParamSpec> outputs(FMClassificationModel stage) {
        return classifierOutputs(stage);
    }

    protected Model store(Model model, FMClassificationModel stage, Dataset<Row> dataset) {
        model = withFactorizationMachine(model, stage.intercept(), stage.linear(), stage.factors());
        return withThresholds(model, stage);
    }
}
