package dev.leapserve.examples;

import dev.leapserve.v1.PredictRequest;
import dev.leapserve.v1.PredictResponse;
import dev.leapserve.v1.PredictionServiceGrpc;
import dev.leapserve.v1.Value;
import dev.leapserve.v1.Vector;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * Scores one record with leapserve's Predict and prints the outputs, one "name = value" line each,
 * sorted by name, as the Go client does.
 *
 * <pre>java ... dev.leapserve.examples.PredictClient 127.0.0.1:50051 MODEL FIELD=VALUE ...</pre>
 *
 * A VALUE that parses as a number is sent as a double, anything else as a string; the server
 * converts both to the pipeline's types.
 */
public final class PredictClient {
  public static void main(String[] args) throws InterruptedException {
    if (args.length < 2) {
      System.err.println("usage: PredictClient ADDRESS MODEL [FIELD=VALUE ...]");
      System.exit(2);
    }
    PredictRequest.Builder request = PredictRequest.newBuilder().setModel(args[1]);
    for (int i = 2; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      if (eq <= 0) {
        System.err.println("expected FIELD=VALUE, got " + args[i]);
        System.exit(2);
      }
      request.putInputs(args[i].substring(0, eq), parse(args[i].substring(eq + 1)));
    }

    ManagedChannel channel = Grpc.newChannelBuilder(args[0], InsecureChannelCredentials.create()).build();
    try {
      PredictResponse response = PredictionServiceGrpc.newBlockingStub(channel)
          .withDeadlineAfter(10, TimeUnit.SECONDS)
          .predict(request.build());
      System.out.println("model = " + response.getModel() + ", version = " + response.getVersion());
      // Sorted by name (a protobuf map keeps no order), as the Go client prints them.
      for (Map.Entry<String, Value> output : new TreeMap<>(response.getOutputsMap()).entrySet()) {
        System.out.println(output.getKey() + " = " + show(output.getValue()));
      }
    } catch (StatusRuntimeException e) {
      // The message names the field, the expected and the actual value (docs/serving.md, Errors).
      System.err.println(e.getStatus().getCode() + ": " + e.getStatus().getDescription());
      System.exit(1);
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static Value parse(String text) {
    try {
      return Value.newBuilder().setDoubleValue(Double.parseDouble(text)).build();
    } catch (NumberFormatException notANumber) {
      return Value.newBuilder().setStringValue(text).build();
    }
  }

  private static String show(Value value) {
    switch (value.getKindCase()) {
      case DOUBLE_VALUE: return Double.toString(value.getDoubleValue());
      case FLOAT_VALUE: return Float.toString(value.getFloatValue());
      case INT_VALUE: return Long.toString(value.getIntValue());
      case BOOL_VALUE: return Boolean.toString(value.getBoolValue());
      case STRING_VALUE: return '"' + value.getStringValue() + '"';
      case VECTOR_VALUE: {
        Vector v = value.getVectorValue();
        // Dense when there are no indices; sparse vectors keep their size, indices and values.
        return v.getIndicesCount() == 0
            ? v.getValuesList().toString()
            : "sparse(size=" + v.getSize() + ", indices=" + v.getIndicesList() + ", values=" + v.getValuesList() + ")";
      }
      case LIST_VALUE: return value.getListValue().getValuesList().stream().map(PredictClient::show).toList().toString();
      default: return "null";
    }
  }
}
