package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import ml.combust.bundle.dsl.Value;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.classification.NaiveBayesModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * naive_bayes: Spark's NaiveBayesModel as MLeap's newer releases write it, with {@code sigma} (the
 * variances of a Gaussian model; an empty matrix for the other model types), which MLeap 0.16 leaves
 * out.
 */
public final class NaiveBayesOp extends WrittenOp<NaiveBayesModel> {
    public NaiveBayesOp() {
        super(NaiveBayesModel.class, "naive_bayes");
    }

    protected List<ParamSpec> inputs(NaiveBayesModel stage) {
        return featuresInput(stage);
    }

    protected List<ParamSpec> outputs(NaiveBayesModel stage) {
        return classifierOutputs(stage);
    }

    protected Model store(Model model, NaiveBayesModel stage, Dataset<Row> dataset) {
        model = with(model, "num_features", longValue(stage.numFeatures()));
        model = with(model, "num_classes", longValue(stage.numClasses()));
        model = with(model, "pi", vector(stage.pi().toArray()));
        model = with(model, "theta", matrix(stage.theta()));
        model = with(model, "model_type", Value.string(stage.getModelType()));
        model = withThresholds(model, stage);
        return with(model, "sigma", matrix(stage.sigma()));
    }
}
