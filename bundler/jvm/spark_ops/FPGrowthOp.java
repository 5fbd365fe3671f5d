package dev.leapserve.spark.ops;

import java.util.ArrayList;
import java.util.List;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.fpm.FPGrowthModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * leapserve.fp_growth: Spark's FPGrowthModel (MLeap has no op) as its association rules, in the
 * order its transform applies them (associationRules, cached by the model, as collected): each
 * rule's items flattened into {@code antecedents} / {@code consequents} with their lengths in
 * {@code antecedent_lengths} / {@code consequent_lengths}. String items only.
 */
public final class FPGrowthOp extends WrittenOp<FPGrowthModel> {
    public FPGrowthOp() {
        super(FPGrowthModel.class, "leapserve.fp_growth");
    }

    protected List<ParamSpec> inputs(FPGrowthModel stage) {
        return List.of(new SimpleParamSpec("items", stage.itemsCol()));
    }

    protected List<ParamSpec> outputs(FPGrowthModel stage) {
        return List.of(new SimpleParamSpec("prediction", stage.predictionCol()));
    }

    protected Model store(Model model, FPGrowthModel stage, Dataset<Row> dataset) {
        DataType type = dataset.schema().apply(stage.getItemsCol()).dataType();
        if (!(type instanceof ArrayType) || !((ArrayType) type).elementType().equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("leapserve.fp_growth writes FPGrowthModel " + stage.uid()
                    + " with string items only; its items column " + stage.getItemsCol() + " is "
                    + type.simpleString());
        }
        List<String> antecedents = new ArrayList<>();
        List<String> consequents = new ArrayList<>();
        List<Long> antecedentLengths = new ArrayList<>();
        List<Long> consequentLengths = new ArrayList<>();
        for (Row rule : stage.associationRules().select("antecedent", "consequent").collectAsList()) {
            List<String> antecedent = rule.getList(0);
            List<String> consequent = rule.getList(1);
            antecedents.addAll(antecedent);
            consequents.addAll(consequent);
            antecedentLengths.add((long) antecedent.size());
            consequentLengths.add((long) consequent.size());
        }
        model = with(model, "antecedents", stringList(antecedents.toArray(new String[0])));
        model = with(model, "antecedent_lengths", longList(antecedentLengths.stream().mapToLong(Long::longValue).toArray()));
        model = with(model, "consequents", stringList(consequents.toArray(new String[0])));
        return with(model, "consequent_lengths", longList(consequentLengths.stream().mapToLong(Long::longValue).toArray()));
    }
}
