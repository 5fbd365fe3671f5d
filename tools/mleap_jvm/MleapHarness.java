// leapserve's harness around MLeap's own JVM runtime (mleap-runtime), used by the test suite as
// the official Bundle.ML reader and by bench/ as the JVM baseline. It is driven over stdin, one
// tab-separated command per line, and answers one line per command on stdout:
//
//   score <bundle> <frame-in.json> <frame-out.json>
//       load the bundle (cached per path), read the LeapFrame with MLeap's JSON reader, transform
//       it, write the result with MLeap's JSON writer -> "ok"
//   score_binary <bundle> <frame-in.bin> <frame-out.bin>
//       the same with MLeap's binary frame format (ml.combust.mleap.binary), which carries every
//       double as its bits: NaN, the infinities and -0.0, which MLeap's JSON writer turns into null
//       or 0 -> "ok"
//   java_math <floor|ceil|round> <bits>...
//       java.lang.Math's function of each double (given and answered as the hex of its long bits;
//       round widened from long as MLeap does): the definitions of MLeap 0.21's math_unary
//       floor, ceil and round, which this runtime (0.20) predates -> "ok <bits>..."
//   bench <bundle> <frame-in.json> <seconds>
//       time single-record scoring of the frame's first row, both through a RowTransformer and
//       through Transformer.transform of a one-row LeapFrame -> "ok <row ns/call> <frame ns/call>"
//   batch <bundle> <frame-in.json> <repeats>
//       time Transformer.transform of the whole frame -> "ok <ns per frame>"
//
// Any failure answers "error <message>" and the harness keeps reading.

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import ml.combust.mleap.json.DefaultFrameReader;
import ml.combust.mleap.json.DefaultFrameWriter;
import ml.combust.mleap.runtime.MleapContext;
import ml.combust.mleap.runtime.frame.DefaultLeapFrame;
import ml.combust.mleap.runtime.frame.Row;
import ml.combust.mleap.runtime.frame.RowTransformer;
import ml.combust.mleap.runtime.frame.Transformer;
import ml.combust.mleap.runtime.javadsl.BundleBuilder;
import ml.combust.mleap.runtime.javadsl.ContextBuilder;
import ml.combust.mleap.runtime.javadsl.LeapFrameBuilder;
import ml.combust.mleap.runtime.javadsl.LeapFrameSupport;
import ml.combust.mleap.runtime.javadsl.RowTransformerSupport;

public class MleapHarness {
    private static final MleapContext CONTEXT = new ContextBuilder().createMleapContext();
    private static final Map<String, Transformer> BUNDLES = new HashMap<>();

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] parts = line.split("\t");
            try {
                out.println(run(parts));
            } catch (Throwable e) {
                Throwable root = e;
                while (root.getCause() != null) root = root.getCause();
                String msg = root.getClass().getName() + ": " + root.getMessage();
                out.println("error\t" + msg.replace('\n', ' ').replace('\t', ' '));
            }
        }
    }

    private static Transformer bundle(String path) {
        File file = new File(path);
        String key = path + "@" + file.lastModified();
        Transformer t = BUNDLES.get(key);
        if (t == null) {
            t = (Transformer) new BundleBuilder().load(file, CONTEXT).root();
            BUNDLES.put(key, t);
        }
        return t;
    }

    private static DefaultLeapFrame readFrame(String path) throws Exception {
        byte[] bytes = Files.readAllBytes(Paths.get(path));
        return new DefaultFrameReader().fromBytes(bytes, StandardCharsets.UTF_8).get();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static String run(String[] p) throws Exception {
        String cmd = p[0];
        if (cmd.equals("java_math")) {
            StringBuilder answer = new StringBuilder("ok");
            for (int i = 2; i < p.length; i++) {
                double x = Double.longBitsToDouble(Long.parseUnsignedLong(p[i], 16));
                double y;
                if (p[1].equals("floor")) y = Math.floor(x);
                else if (p[1].equals("ceil")) y = Math.ceil(x);
                else if (p[1].equals("round")) y = (double) Math.round(x);
                else return "error\tunknown function " + p[1];
                answer.append('\t').append(Long.toHexString(Double.doubleToRawLongBits(y)));
            }
            return answer.toString();
        }
        Transformer t = bundle(p[1]);
        if (cmd.equals("score_binary")) {
            DefaultLeapFrame in = new ml.combust.mleap.binary.DefaultFrameReader()
                    .fromBytes(Files.readAllBytes(Paths.get(p[2])), StandardCharsets.UTF_8).get();
            DefaultLeapFrame result = (DefaultLeapFrame) t.transform(in).get();
            byte[] bytes = (byte[]) new ml.combust.mleap.binary.DefaultFrameWriter(result)
                    .toBytes(StandardCharsets.UTF_8).get();
            Files.write(Paths.get(p[3]), bytes);
            return "ok";
        }
        DefaultLeapFrame frame = readFrame(p[2]);
        if (cmd.equals("score")) {
            DefaultLeapFrame result = (DefaultLeapFrame) t.transform(frame).get();
            byte[] bytes = (byte[]) new DefaultFrameWriter(result).toBytes(StandardCharsets.UTF_8).get();
            Files.write(Paths.get(p[3]), bytes);
            return "ok";
        }
        if (cmd.equals("bench")) {
            double seconds = Double.parseDouble(p[3]);
            RowTransformer rt = (RowTransformer) t.transform(
                    new RowTransformerSupport().createRowTransformer(frame.schema())).get();
            List<Row> rows = new LeapFrameSupport().collect(frame);
            Row row = rows.get(0);
            DefaultLeapFrame one = new LeapFrameBuilder().createFrame(frame.schema(), rows.subList(0, 1));
            long rowNs = timeRows(rt, row, seconds);
            long frameNs = timeFrames(t, one, seconds);
            return "ok\t" + rowNs + "\t" + frameNs;
        }
        if (cmd.equals("batch")) {
            int repeats = Integer.parseInt(p[3]);
            t.transform(frame).get();  // warm up
            long best = Long.MAX_VALUE;
            for (int i = 0; i < repeats; i++) {
                long start = System.nanoTime();
                DefaultLeapFrame result = (DefaultLeapFrame) t.transform(frame).get();
                new LeapFrameSupport().collect(result);
                best = Math.min(best, System.nanoTime() - start);
            }
            return "ok\t" + best;
        }
        return "error\tunknown command " + cmd;
    }

    // Per-call time: warm up for a third of the budget, then the best of several timed rounds.
    private static long timeRows(RowTransformer rt, Row row, double seconds) {
        long budget = (long) (seconds * 1e9);
        long warm = System.nanoTime() + budget / 3;
        Object sink = null;
        while (System.nanoTime() < warm) sink = rt.transform(row);
        long best = Long.MAX_VALUE;
        long end = System.nanoTime() + budget * 2 / 3;
        while (System.nanoTime() < end) {
            long start = System.nanoTime();
            for (int i = 0; i < 1000; i++) sink = rt.transform(row);
            best = Math.min(best, (System.nanoTime() - start) / 1000);
        }
        if (sink == null) throw new IllegalStateException("row dropped");
        return best;
    }

    @SuppressWarnings("rawtypes")
    private static long timeFrames(Transformer t, DefaultLeapFrame one, double seconds) {
        long budget = (long) (seconds * 1e9);
        long warm = System.nanoTime() + budget / 3;
        Object sink = null;
        while (System.nanoTime() < warm) sink = t.transform(one).get();
        long best = Long.MAX_VALUE;
        long end = System.nanoTime() + budget * 2 / 3;
        while (System.nanoTime() < end) {
            long start = System.nanoTime();
            for (int i = 0; i < 1000; i++) sink = t.transform(one).get();
            best = Math.min(best, (System.nanoTime() - start) / 1000);
        }
        if (sink == null) throw new IllegalStateException("no frame");
        return best;
    }
}
