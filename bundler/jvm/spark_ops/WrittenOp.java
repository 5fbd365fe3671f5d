package dev.leapserve.spark.ops;

import java.util.ArrayList;
import java.util.List;

import ml.combust.bundle.BundleContext;
import ml.combust.bundle.dsl.Model;
import ml.combust.bundle.dsl.Node;
import ml.combust.bundle.dsl.NodeShape;
import ml.combust.bundle.dsl.Value;
import ml.combust.bundle.op.OpModel;
import ml.combust.bundle.op.OpNode;
import ml.combust.mleap.tensor.DenseTensor;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.bundle.ParamSpec;
import org.apache.spark.ml.bundle.SparkBundleContext;
import org.apache.spark.ml.bundle.SimpleParamSpec;
import org.apache.spark.ml.bundle.SparkShapeSaver;
import org.apache.spark.ml.classification.ProbabilisticClassificationModel;
import org.apache.spark.ml.linalg.Matrix;
import org.apache.spark.ml.param.shared.HasFeaturesCol;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag$;

/**
 * Base of leapserve's own ops for MLeap's Spark serializer: one Spark transformer class written as
 * one Bundle.ML node with the op name and attributes of MLeap's newer releases.
 *
 * MLeap's OpNode and OpModel are Scala 2.12 traits without fields, so they compile to plain Java
 * interfaces (default methods for what they implement): Java implements them directly, with the
 * implicit BundleContext as an ordinary last parameter. These ops write; reading a bundle back into
 * Spark is left to MLeap's own op for the class where {@link #reader} names one (it reads the layout
 * MLeap wrote, as in bundles made before leapserve's op replaced it), and refused otherwise
 * (leapserve and MLeap's runtime read the bundles).
 *
 * The registry (bundler/jars.py, SPARK_OPS) instantiates each op by its no-argument constructor.
 */
public abstract class WrittenOp<N extends Transformer> implements OpNode<SparkBundleContext, N, Object> {
    private final Class<N> sparkClass;
    private final OpModel<SparkBundleContext, Object> model;
    @SuppressWarnings("rawtypes")
    private OpNode reader;

    @SuppressWarnings({"unchecked", "rawtypes"})
    protected WrittenOp(Class<N> sparkClass, String opName) {
        this.sparkClass = sparkClass;
        this.model = new OpModel<SparkBundleContext, Object>() {
            public Class<Object> klazz() {
                return (Class) sparkClass;
            }

            public String opName() {
                return opName;
            }

            public Model store(Model model, Object obj, BundleContext<SparkBundleContext> context) {
                return WrittenOp.this.store(model, sparkClass.cast(obj), dataset(context));
            }

            @SuppressWarnings("unchecked")
            public Object load(Model model, BundleContext<SparkBundleContext> context) {
                if (reader == null) {
                    throw writeOnly();
                }
                return reader.Model().load(model, context);
            }
        };
        this.reader = reader();
    }

    /** MLeap's own op for the same Spark class, to read bundles back into Spark; null: none. */
    @SuppressWarnings("rawtypes")
    protected OpNode reader() {
        return null;
    }

    /** The node's input ports and the Spark params naming their columns. */
    protected abstract List<ParamSpec> inputs(N stage);

    /** The node's output ports and the Spark params naming their columns (unset ones are left out). */
    protected abstract List<ParamSpec> outputs(N stage);

    /** The model's attributes, added to {@code model} with {@link #with}. */
    protected abstract Model store(Model model, N stage, Dataset<Row> dataset);

    public OpModel<SparkBundleContext, Object> Model() {
        return model;
    }

    public Class<N> klazz() {
        return sparkClass;
    }

    public String name(N stage) {
        return stage.uid();
    }

    public Object model(N stage) {
        return stage;
    }

    public NodeShape shape(N stage, BundleContext<SparkBundleContext> context) {
        return new SparkShapeSaver(dataset(context), stage, seq(inputs(stage)), seq(outputs(stage))).asNodeShape();
    }

    @SuppressWarnings("unchecked")
    public N load(Node node, Object model, BundleContext<SparkBundleContext> context) {
        if (reader == null) {
            throw writeOnly();
        }
        return (N) reader.load(node, model, context);
    }

    private UnsupportedOperationException writeOnly() {
        return new UnsupportedOperationException(getClass().getName() + " writes " + sparkClass.getName()
                + " bundles only; read them with leapserve or MLeap's runtime");
    }

    /** The transformed data frame MLeap was given (column types and metadata). */
    protected Dataset<Row> dataset(BundleContext<SparkBundleContext> context) {
        scala.Option<Dataset<Row>> dataset = context.context().dataset();
        if (dataset.isEmpty()) {
            throw new IllegalArgumentException("MLeap needs the transformed data frame to write "
                    + sparkClass.getName());
        }
        return dataset.get();
    }

    // --- ports and attributes several ops share ------------------------------------------------

    /** The one input port of Spark's predictors and LDA models: "features". */
    protected static List<ParamSpec> featuresInput(HasFeaturesCol stage) {
        return List.of(new SimpleParamSpec("features", stage.featuresCol()));
    }

    /** A probabilistic classifier's output ports, in MLeap's order. */
    protected static List<ParamSpec> classifierOutputs(ProbabilisticClassificationModel<?, ?> stage) {
        return List.of(new SimpleParamSpec("raw_prediction", stage.rawPredictionCol()),
                new SimpleParamSpec("probability", stage.probabilityCol()),
                new SimpleParamSpec("prediction", stage.predictionCol()));
    }

    /** A classifier's thresholds, written only when set (unset, the prediction is the argmax). */
    protected static Model withThresholds(Model model, ProbabilisticClassificationModel<?, ?> stage) {
        if (!stage.isSet(stage.thresholds())) {
            return model;
        }
        return with(model, "thresholds", doubleList(stage.getThresholds()));
    }

    // --- attribute values, in Bundle.ML's types -------------------------------------------------

    protected static Model with(Model model, String name, Value value) {
        return (Model) model.withValue(name, value);
    }

    // Value.int, Value.long, Value.double and Value.boolean are Scala methods named with Java
    // keywords: javac cannot call them by name, so these look them up once by reflection.
    private static final java.lang.reflect.Method INT_VALUE = scalarMethod("int", int.class);
    private static final java.lang.reflect.Method LONG_VALUE = scalarMethod("long", long.class);
    private static final java.lang.reflect.Method DOUBLE_VALUE = scalarMethod("double", double.class);
    private static final java.lang.reflect.Method BOOLEAN_VALUE = scalarMethod("boolean", boolean.class);

    private static java.lang.reflect.Method scalarMethod(String name, Class<?> type) {
        try {
            return Value.class.getMethod(name, type);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("MLeap's Value has no " + name + "(" + type + ")", e);
        }
    }

    private static Value scalar(java.lang.reflect.Method method, Object value) {
        try {
            return (Value) method.invoke(null, value);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("MLeap's Value." + method.getName() + " failed", e);
        }
    }

    protected static Value intValue(int value) {
        return scalar(INT_VALUE, value);
    }

    protected static Value longValue(long value) {
        return scalar(LONG_VALUE, value);
    }

    protected static Value doubleValue(double value) {
        return scalar(DOUBLE_VALUE, value);
    }

    protected static Value booleanValue(boolean value) {
        return scalar(BOOLEAN_VALUE, value);
    }

    protected static <T> scala.collection.Seq<T> seq(List<T> items) {
        return JavaConverters.asScalaBufferConverter(items).asScala().toList();
    }

    protected static Value longList(long[] values) {
        List<Object> boxed = new ArrayList<>();
        for (long v : values) boxed.add(v);
        return Value.longList(seq(boxed));
    }

    protected static Value doubleList(double[] values) {
        List<Object> boxed = new ArrayList<>();
        for (double v : values) boxed.add(v);
        return Value.doubleList(seq(boxed));
    }

    protected static Value stringList(String[] values) {
        return Value.stringList(seq(List.of(values)));
    }

    /** A 1-D double tensor (Bundle.ML's vector). */
    protected static Value vector(double[] values) {
        return Value.vector(values, ClassTag$.MODULE$.Double());
    }

    /** A Spark matrix as MLeap writes it: a tensor of dimensions [rows, cols], values column-major. */
    protected static Value matrix(Matrix matrix) {
        List<Object> dims = List.of(matrix.numRows(), matrix.numCols());
        return Value.tensor(new DenseTensor<Object>(matrix.toArray(), seq(dims), ClassTag$.MODULE$.Double()));
    }
}
