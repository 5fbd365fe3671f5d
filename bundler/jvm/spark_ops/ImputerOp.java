package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.BundleContext;
import ml.combust.bundle.dsl.Model;
import ml.combust.bundle.dsl.NodeShape;
import ml.combust.bundle.dsl.Value;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.bundle.SparkBundleContext;
import org.apache.spark.ml.feature.ImputerModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * imputer: Spark's own ImputerModel (MLeap has an op only for its extension's Imputer), written as
 * MLeap's imputer node: surrogate_value, missing_value, strategy, nullable_input. That node reads one
 * column, so a model of several columns (inputCols) is written as a pipeline node holding one imputer
 * node per column, named {@code <uid>_<i>}.
 *
 * Spark casts its answer back to the input column's type, so the surrogate written is the one Spark
 * really puts in (for an integer column, the mean truncated by Spark's own cast). nullable_input is
 * true: Spark imputes nulls whatever the column's declared nullability.
 */
public final class ImputerOp extends WrittenOp<ImputerModel> {
    public ImputerOp() {
        super(ImputerModel.class, "imputer");
    }

    private static boolean multiColumn(ImputerModel stage) {
        return stage.isSet(stage.inputCols());
    }

    /** One single-column ImputerModel per column, in a pipeline, for a multi-column model. */
    @Override
    public Object model(ImputerModel stage) {
        if (!multiColumn(stage)) {
            return stage;
        }
        String[] in = stage.getInputCols();
        String[] out = stage.getOutputCols();
        Transformer[] columns = new Transformer[in.length];
        for (int i = 0; i < in.length; i++) {
            ImputerModel column = new ImputerModel(stage.uid() + "_" + i, stage.surrogateDF().select(in[i]));
            column.set(column.missingValue(), stage.getMissingValue());
            column.set(column.strategy(), stage.getStrategy());
            columns[i] = column.setInputCol(in[i]).setOutputCol(out[i]);
        }
        return new PipelineModel(stage.uid(), columns);
    }

    @Override
    public NodeShape shape(ImputerModel stage, BundleContext<SparkBundleContext> context) {
        return multiColumn(stage) ? NodeShape.apply() : super.shape(stage, context);
    }

    protected List<ParamSpec> inputs(ImputerModel stage) {
        return List.of(new SimpleParamSpec("input", stage.inputCol()));
    }

    protected List<ParamSpec> outputs(ImputerModel stage) {
        return List.of(new SimpleParamSpec("output", stage.outputCol()));
    }

    protected Model store(Model model, ImputerModel stage, Dataset<Row> dataset) {
        String column = stage.getInputCol();
        DataType type = dataset.schema().apply(column).dataType();
        double surrogate = stage.surrogateDF()
                .select(functions.col(column).cast(type).cast(DataTypes.DoubleType)).head().getDouble(0);
        model = with(model, "surrogate_value", doubleValue(surrogate));
        model = with(model, "missing_value", doubleValue(stage.getMissingValue()));
        model = with(model, "strategy", Value.string(stage.getStrategy()));
        return with(model, "nullable_input", booleanValue(true));
    }
}
