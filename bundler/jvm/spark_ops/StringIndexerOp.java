package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import ml.combust.bundle.dsl.Value;
import ml.combust.bundle.op.OpNode;
import org.apache.spark.ml.bundle.ArrayParamSpec;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.feature.StringIndexerModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * string_indexer: Spark 3's StringIndexerModel, one column or several (inputCols), as MLeap's newer
 * releases write it: {@code labels_length} and {@code labels_array_<i>} per column, handle_invalid;
 * ports input/output for one column (inputCol), input0.../output0... for several. MLeap 0.16 writes
 * the single-column form only.
 */
public final class StringIndexerOp extends WrittenOp<StringIndexerModel> {
    public StringIndexerOp() {
        super(StringIndexerModel.class, "string_indexer");
    }

    /** MLeap 0.16's op reads the single-column layout it wrote (its "labels" attribute). */
    @SuppressWarnings("rawtypes")
    protected OpNode reader() {
        return new org.apache.spark.ml.bundle.ops.feature.StringIndexerOp();
    }

    private static boolean multiColumn(StringIndexerModel stage) {
        return stage.isSet(stage.inputCols());
    }

    protected List<ParamSpec> inputs(StringIndexerModel stage) {
        return List.of(multiColumn(stage) ? new ArrayParamSpec("input", stage.inputCols())
                : new SimpleParamSpec("input", stage.inputCol()));
    }

    protected List<ParamSpec> outputs(StringIndexerModel stage) {
        return List.of(multiColumn(stage) ? new ArrayParamSpec("output", stage.outputCols())
                : new SimpleParamSpec("output", stage.outputCol()));
    }

    protected Model store(Model model, StringIndexerModel stage, Dataset<Row> dataset) {
        String[][] labels = stage.labelsArray();
        model = with(model, "labels_length", intValue(labels.length));
        model = with(model, "handle_invalid", Value.string(stage.getHandleInvalid()));
        for (int i = 0; i < labels.length; i++) {
            model = with(model, "labels_array_" + i, stringList(labels[i]));
        }
        return model;
    }
}
