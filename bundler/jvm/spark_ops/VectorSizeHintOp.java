package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.dsl.Model;
import ml.combust.bundle.dsl.Value;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.feature.VectorSizeHint;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * leapserve.vector_size_hint: Spark's VectorSizeHint (MLeap has no op for it; the op name is
 * leapserve's). Spark's stage replaces its one column by itself, checked, so the node's input and
 * output ports name the same column; attributes size and handle_invalid (error, skip, optimistic).
 */
public final class VectorSizeHintOp extends WrittenOp<VectorSizeHint> {
    public VectorSizeHintOp() {
        super(VectorSizeHint.class, "leapserve.vector_size_hint");
    }

    protected List<ParamSpec> inputs(VectorSizeHint stage) {
        return List.of(new SimpleParamSpec("input", stage.inputCol()));
    }

    protected List<ParamSpec> outputs(VectorSizeHint stage) {
        return List.of(new SimpleParamSpec("output", stage.inputCol()));
    }

    protected Model store(Model model, VectorSizeHint stage, Dataset<Row> dataset) {
        model = with(model, "size", intValue(stage.getSize()));
        return with(model, "handle_invalid", Value.string(stage.getHandleInvalid()));
    }
}
