package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The headless entry end to end on a scripted platform: what is written, and what is refused before running. */
class HeadlessBenchmarkTest {
  static final String PUSH = "/data/local/tmp/mobilenet_bench";

  /** A phone folder under a temp dir; its backend copies the first input bytes it sees to the output. */
  static final class TestPlatform implements Platform {
    final File root;
    final List<String> created = new ArrayList<String>();
    final List<String> logs = new ArrayList<String>();
    ByteBuffer seenInput;

    TestPlatform() throws Exception {
      root = Files.createTempDirectory("phone").toFile();
    }

    public String pushDir() {
      return PUSH;
    }

    public String filesDir() {
      return "/data/user/0/app/files";
    }

    public File resultsDir() {
      return file("/sdcard/results");
    }

    public File file(String devicePath) {
      return new File(root, devicePath.substring(1));
    }

    public Photo decodePhoto(String devicePath) {
      int[] px = new int[40 * 30];
      for (int i = 0; i < px.length; i++) {
        px[i] = 0xFF000000 | (i * 7919 & 0xFFFFFF);
      }
      return new Photo(px, 40, 30, "synthetic.png");
    }

    public Map<String, Object> deviceInfo() {
      Map<String, Object> d = new LinkedHashMap<String, Object>();
      d.put("name", "Test Phone");
      d.put("os", "Android 14 (API 34)");
      return d;
    }

    public Double batteryTemperatureC() {
      return Double.valueOf(30.5);
    }

    public String thermalStatus() {
      return "none";
    }

    public Double peakMemoryMb() {
      return null;
    }

    public Backend newBackend(final String runtime, String delegate) {
      created.add(runtime);
      return new Backend() {
        ByteBuffer in;
        ByteBuffer out;

        public String name() {
          return runtime;
        }

        public String version() {
          return "9.9";
        }

        public String versionSource() {
          return "runtime";
        }

        public String delegate() {
          return "xnnpack";
        }

        public void load(String modelPath, int threads) {}

        public void bind(ByteBuffer input, TensorSpec i, TensorSpec o) {
          in = input;
          seenInput = input;
          out = ByteBuffer.allocate(o.nbytes()).order(ByteOrder.nativeOrder());
        }

        public void run() {
          for (int k = 0; k < out.capacity(); k++) {
            out.put(k, in.get(k));
          }
        }

        public ByteBuffer output() {
          return out;
        }

        public void close() {}
      };
    }

    public BenchmarkLoop.Clock clock() {
      return BenchmarkLoop.SYSTEM;
    }

    public void log(boolean error, String message) {
      logs.add(message);
    }
  }

  static String manifest(String target, String file, String inputDtype, String layout, String labels) {
    String q = inputDtype.equals("int8") ? ", \"quantization\": {\"scale\": 0.0078125, \"zero_point\": 0}" : "";
    return "{\"artifact\": {\"file\": \"" + file + "\"}, \"target\": \"" + target + "\", \"precision\": \"fp32\","
        + "\"variant\": {\"name\": \"v\", \"alpha\": 0.25, \"resolution\": 8, \"num_classes\": 4},"
        + "\"input\": {\"shape\": [1, 8, 8, 3], \"layout\": \"" + layout + "\", \"dtype\": \"" + inputDtype + "\"" + q + "},"
        + "\"output\": {\"shape\": [1, 4], \"dtype\": \"int8\", \"quantization\": {\"scale\": 0.5, \"zero_point\": 1}},"
        + "\"preprocessing\": {\"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], \"crop_fraction\": 1.0},"
        + "\"labels_file\": \"" + labels + "\"}";
  }

  static Map<String, Object> push(TestPlatform p, String name, String manifest) throws Exception {
    File model = p.file(PUSH + "/" + name);
    model.getParentFile().mkdirs();
    Files.write(model.toPath(), new byte[] {1, 2, 3});
    Files.write(new File(model.getPath() + ".manifest.json").toPath(), manifest.getBytes("UTF-8"));
    Map<String, Object> extras = new LinkedHashMap<String, Object>();
    extras.put("model_path", PUSH + "/" + name);
    extras.put("run_id", "r1");
    extras.put("warmup", Integer.valueOf(1));
    extras.put("iterations", Integer.valueOf(3));
    return extras;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> read(File f) throws Exception {
    return (Map<String, Object>) Json.parse(FileIo.readText(f));
  }

  @Test
  @SuppressWarnings("unchecked")
  void writesTheRecordWithTheDecodedFirstOutput() throws Exception {
    TestPlatform p = new TestPlatform();
    Map<String, Object> extras = push(p, "m.tflite", manifest("tflite", "m.tflite", "int8", "nhwc", "m.tflite.labels.txt"));
    File out = HeadlessBenchmark.run(extras, p);
    assertEquals("r1.json", out.getName());
    Map<String, Object> r = read(out);
    Map<String, Object> rt = (Map<String, Object>) r.get("runtime");
    assertEquals("runtime", rt.get("version_source"));
    assertEquals(3, ((List<Object>) r.get("latency_ms")).size());
    // the backend echoed the first 4 input bytes (int8 pixels); the core decoded them as int8 (q - 1) * 0.5
    List<Object> first = (List<Object>) r.get("first_output");
    for (int k = 0; k < 4; k++) {
      assertEquals((p.seenInput.get(k) - 1) * 0.5, ((Number) first.get(k)).doubleValue(), 0.0);
    }
    assertEquals(8 * 8 * 3, p.seenInput.capacity()); // int8: one byte per value
  }

  @Test
  void refusalsWriteOneErrorRecordAndRunNothing() throws Exception {
    String ok = manifest("tflite", "m.tflite", "float32", "nhwc", "m.tflite.labels.txt");
    String[][] cases = {
      {"onnx", "m.onnx", manifest("onnx", "m.onnx", "float32", "nhwc", "x"), "manifest", "cannot run on Android"},
      {"labels", "m.tflite", ok.replace("m.tflite.labels.txt", "../../x.txt"), "manifest", "leaves the artifact's folder"},
      {"dtype", "m.tflite", ok.replace("\"dtype\": \"float32\"", "\"dtype\": \"bool\""), "manifest", "cannot feed"},
      {"layout", "m.tflite", manifest("tflite", "m.tflite", "float32", "image", "x"), "input", "Core ML image input"},
      {"mismatch", "m.pte", ok, "manifest", "the file is m.pte"},
    };
    for (String[] c : cases) {
      TestPlatform p = new TestPlatform();
      Map<String, Object> extras = push(p, c[1], c[2]);
      File err = HeadlessBenchmark.run(extras, p);
      Map<String, Object> e = read(err);
      assertEquals("r1.error.json", err.getName(), c[0]);
      assertEquals(c[3], e.get("stage"), c[0]);
      assertTrue(((String) e.get("error")).contains(c[4]), c[0] + ": " + e.get("error"));
      assertTrue(p.created.isEmpty(), c[0] + ": a backend was created");
    }
  }

  @Test
  void aBadRunIdOrPathIsRefusedBeforeAnythingElse() throws Exception {
    TestPlatform p = new TestPlatform();
    Map<String, Object> extras = push(p, "m.tflite", manifest("tflite", "m.tflite", "float32", "nhwc", "x"));
    extras.put("run_id", "a;reboot");
    File err = HeadlessBenchmark.run(extras, p);
    assertEquals(HeadlessBenchmark.INVALID_RUN_ID + ".error.json", err.getName());
    assertEquals("arguments", read(err).get("stage"));
    extras.put("run_id", "r2");
    File outside = Files.createTempDirectory("outside").toFile();
    Files.write(new File(outside, "m.tflite").toPath(), new byte[] {1});
    File link = p.file(PUSH + "/link.tflite");
    Files.createSymbolicLink(link.toPath(), new File(outside, "m.tflite").toPath());
    extras.put("model_path", PUSH + "/link.tflite");
    Map<String, Object> e = read(HeadlessBenchmark.run(extras, p));
    assertTrue(((String) e.get("error")).contains("resolves outside the folders the app reads"), (String) e.get("error"));
    assertTrue(p.created.isEmpty());
    assertFalse(new File(p.resultsDir(), "r2.json").exists());
  }
}
