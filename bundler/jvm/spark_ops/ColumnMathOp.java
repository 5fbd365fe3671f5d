package dev.leapserve.spark.ops;

import java.util.List;

import ml.combust.bundle.BundleContext;
import ml.combust.bundle.dsl.Model;
import ml.combust.bundle.dsl.NodeShape;
import ml.combust.bundle.dsl.Value;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SparkBundleContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * math_unary and math_binary: a ColumnMath step as MLeap writes its MathUnary and MathBinary
 * transformers (ports input / input_a, input_b and output; attributes operation, and da / db for
 * a constant operand), so that MLeap's runtime reads these nodes too. ColumnMath has no Spark
 * params, so the node's sockets are built here rather than from params.
 */
public abstract class ColumnMathOp<N extends ColumnMath> extends WrittenOp<N> {
    protected ColumnMathOp(Class<N> stageClass, String opName) {
        super(stageClass, opName);
    }

    protected List<ParamSpec> inputs(N stage) {
        return List.of();
    }

    protected List<ParamSpec> outputs(N stage) {
        return List.of();
    }

    public NodeShape shape(N stage, BundleContext<SparkBundleContext> context) {
        NodeShape shape = NodeShape.apply();
        if (stage.unary()) {
            shape = shape.withInput("input", stage.inputA);
        } else {
            if (stage.inputA != null) shape = shape.withInput("input_a", stage.inputA);
            if (stage.inputB != null) shape = shape.withInput("input_b", stage.inputB);
        }
        return shape.withOutput("output", stage.outputCol);
    }

    protected Model store(Model model, N stage, Dataset<Row> dataset) {
        model = with(model, "operation", Value.string(stage.operation));
        if (stage.constantA != null) model = with(model, "da", doubleValue(stage.constantA));
        if (stage.constantB != null) model = with(model, "db", doubleValue(stage.constantB));
        return model;
    }

    /** A ColumnMath step of one operand. */
    public static final class Unary extends ColumnMath {
        public Unary(String uid, String operation, String input, String outputCol) {
            super(uid, operation, input, null, null, null, outputCol);
        }
    }

    /** A ColumnMath step of two operands. */
    public static final class Binary extends ColumnMath {
        public Binary(String uid, String operation, String inputA, String inputB, Double constantA,
                      Double constantB, String outputCol) {
            super(uid, operation, inputA, inputB, constantA, constantB, outputCol);
        }
    }

    public static final class UnaryOp extends ColumnMathOp<Unary> {
        public UnaryOp() {
            super(Unary.class, "math_unary");
        }
    }

    public static final class BinaryOp extends ColumnMathOp<Binary> {
        public BinaryOp() {
            super(Binary.class, "math_binary");
        }
    }
}
