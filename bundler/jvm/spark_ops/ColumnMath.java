package dev.leapserve.spark.ops;

import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * One arithmetic step of a SQLTransformer statement (bundler/equivalents.py splits the statement
 * into these), for MLeap's serializer to write as MLeap's math_unary or math_binary node
 * (MathUnaryOp, MathBinaryOp). An operand is a column or, where its column is null, a constant.
 * transform adds the output column so that MLeap reads its type from the data; the export verifies
 * the bundle against the SQLTransformer's own transform, not this one.
 */
public class ColumnMath extends Transformer {
    private final String uid;
    final String operation;
    final String inputA;
    final String inputB;
    final Double constantA;
    final Double constantB;
    final String outputCol;

    public ColumnMath(String uid, String operation, String inputA, String inputB, Double constantA,
                      Double constantB, String outputCol) {
        this.uid = uid;
        this.operation = operation;
        this.inputA = inputA;
        this.inputB = inputB;
        this.constantA = constantA;
        this.constantB = constantB;
        this.outputCol = outputCol;
    }

    public String uid() {
        return uid;
    }

    public boolean unary() {
        return inputB == null && constantB == null;
    }

    private static Column operand(String column, Double constant) {
        return column != null ? functions.col(column) : functions.lit(constant);
    }

    private Column result() {
        Column a = operand(inputA, constantA);
        if (unary()) {
            switch (operation) {
                case "sqrt": return functions.sqrt(a);
                case "exp": return functions.exp(a);
                case "sin": return functions.sin(a);
                case "cos": return functions.cos(a);
                case "tan": return functions.tan(a);
                case "abs": return functions.abs(a);
                default: throw new IllegalArgumentException("unary operation " + operation);
            }
        }
        Column b = operand(inputB, constantB);
        switch (operation) {
            case "add": return a.plus(b);
            case "sub": return a.minus(b);
            case "mul": return a.multiply(b);
            case "pow": return functions.pow(a, b);
            default: throw new IllegalArgumentException("binary operation " + operation);
        }
    }

    public Dataset<Row> transform(Dataset<?> dataset) {
        return dataset.withColumn(outputCol, result().cast(DataTypes.DoubleType));
    }

    public StructType transformSchema(StructType schema) {
        return schema.add(outputCol, DataTypes.DoubleType, true);
    }

    public ColumnMath copy(ParamMap extra) {
        return new ColumnMath(uid, operation, inputA, inputB, constantA, constantB, outputCol);
    }
}
