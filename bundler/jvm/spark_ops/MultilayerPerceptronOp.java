package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.classification.MultilayerPerceptronClassificationModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * multi_layer_perceptron_classifier: Spark's MultilayerPerceptronClassificationModel as MLeap's newer
 * releases write it (layers, the flat weights, thresholds when set). MLeap 0.16's op reads the
 * model's {@code layers} field, which Spark 3 replaced by a param.
 */
public final class MultilayerPerceptronOp extends WrittenOp<MultilayerPerceptronClassificationModel> {
    public MultilayerPerceptronOp() {
        super(MultilayerPerceptronClassificationModel.class, "multi_layer_perceptron_classifier");
    }

    protected List<ParamSpec> inputs(MultilayerPerceptronClassificationModel stage) {
        return featuresInput(stage);
    }

    protected List<ParamSpec> outputs(MultilayerPerceptronClassificationModel stage) {
        return classifierOutputs(stage);
    }

    protected Model store(Model model, MultilayerPerceptronClassificationModel stage, Dataset<Row> dataset) {
        int[] layers = stage.getLayers();
        long[] sizes = new long[layers.length];
        for (int i = 0; i < layers.length; i++) sizes[i] = layers[i];
        model = with(model, "layers", longList(sizes));
        model = with(model, "weights", vector(stage.weights().toArray()));
        return withThresholds(model, stage);
    }
}
