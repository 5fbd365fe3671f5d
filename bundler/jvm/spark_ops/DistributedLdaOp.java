package dev.leapserve.spark.ops;

import ml.combust.bundle.dsl.Model;
import org.apache.spark.ml.clustering.DistributedLDAModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * Spark's DistributedLDAModel (LDA's EM optimizer), written as its local model (toLocal), whose
 * transform is the same: the node's model is then written by {@link LdaOp} as
 * lda_local_model_op. MLeap has no op for this class. The op name below only keys this op in
 * MLeap's registry (one op per name); no bundle carries it.
 */
public final class DistributedLdaOp extends LdaModelOp<DistributedLDAModel> {
    public DistributedLdaOp() {
        super(DistributedLDAModel.class, "leapserve_distributed_lda");
    }

    @Override
    public Object model(DistributedLDAModel stage) {
        return stage.toLocal();
    }

    protected Model store(Model model, DistributedLDAModel stage, Dataset<Row> dataset) {
        throw new IllegalStateException("a DistributedLDAModel is written as its local model (LdaOp)");
    }
}
