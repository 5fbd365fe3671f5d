package dev.leapserve.spark.ops;

import java.util.List;

import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.clustering.LDAModel;

/**
 * Base of {@link LdaOp} and {@link DistributedLdaOp}: the ports of Spark's LDA models, the features
 * in and the topic distribution out (MLeap's port "prediction").
 */
abstract class LdaModelOp<N extends LDAModel> extends WrittenOp<N> {
    LdaModelOp(Class<N> sparkClass, String opName) {
        super(sparkClass, opName);
    }

    protected List<ParamSpec> inputs(N stage) {
        return featuresInput(stage);
    }

    protected List<ParamSpec> outputs(N stage) {
        return List.of(new SimpleParamSpec("prediction", stage.topicDistributionCol()));
    }
}
