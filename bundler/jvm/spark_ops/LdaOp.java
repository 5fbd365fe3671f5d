package dev.leapserve.spark.ops;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.clustering.LocalLDAModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * lda_local_model_op: Spark's LocalLDAModel with MLeap's attributes (vocabSize, docConcentration,
 * topicConcentration, topicMatrix), plus the seed and gamma shape Spark's topic inference starts
 * from, which make its answer reproducible (leapserve reads them; MLeap's runtime draws its own).
 * MLeap 0.16's op goes through breeze 0.13, which does not link on Spark 3.5; this one reads Spark's
 * matrices and vectors only.
 */
public final class LdaOp extends LdaModelOp<LocalLDAModel> {
    public LdaOp() {
        super(LocalLDAModel.class, "lda_local_model_op");
    }

    protected Model store(Model model, LocalLDAModel stage, Dataset<Row> dataset) {
        // what transform uses: the concentration estimated in training, the old model's seed and shape
        org.apache.spark.mllib.clustering.LocalLDAModel old = stage.oldLocalModel();
        model = with(model, "vocabSize", intValue(stage.vocabSize()));
        model = with(model, "docConcentration", doubleList(old.docConcentration().toArray()));
        model = with(model, "topicConcentration", doubleValue(old.topicConcentration()));
        model = with(model, "topicMatrix", matrix(stage.topicsMatrix()));
        model = with(model, "seed", longValue(old.seed()));
        return with(model, "gammaShape", doubleValue(old.gammaShape()));
    }
}
