package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.classification.FMClassificationModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * leapserve.fm_classifier: Spark's FMClassificationModel (MLeap has no op for factorization
 * machines): intercept, linear, factors [num_features, factor_size] and thresholds when set.
 */
public final class FMClassifierOp extends WrittenOp<FMClassificationModel> {
    public FMClassifierOp() {
        super(FMClassificationModel.class, "leapserve.fm_classifier");
    }

    protected List<ParamSpec> inputs(FMClassificationModel stage) {
        return List.of(new SimpleParamSpec("features", stage.featuresCol()));
    }

    protected List<ParamSpec> outputs(FMClassificationModel stage) {
        return List.of(new SimpleParamSpec("raw_prediction", stage.rawPredictionCol()),
                new SimpleParamSpec("probability", stage.probabilityCol()),
                new SimpleParamSpec("prediction", stage.predictionCol()));
    }

    protected Model store(Model model, FMClassificationModel stage, Dataset<Row> dataset) {
        model = with(model, "intercept", doubleValue(stage.intercept()));
        model = with(model, "linear", vector(stage.linear().toArray()));
        if (stage.isSet(stage.thresholds())) {
            model = with(model, "thresholds", doubleList(stage.getThresholds()));
        }
        return with(model, "factors", matrix(stage.factors()));
    }
}
