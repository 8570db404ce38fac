package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchArgsTest {
  static final String PUSH = "/data/local/tmp/mobilenet_bench";
  static final String FILES = "/data/user/0/org.mobilenet.toolkit.demo/files";

  static Map<String, Object> extras(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<String, Object>();
    m.put("model_path", PUSH + "/m.tflite");
    for (int i = 0; i < kv.length; i += 2) {
      if (kv[i + 1] == null) {
        m.remove(kv[i]);
      } else {
        m.put((String) kv[i], kv[i + 1]);
      }
    }
    return m;
  }

  static String refused(Map<String, Object> extras) {
    return assertThrows(IllegalArgumentException.class, () -> BenchArgs.parse(extras, 7L, PUSH, FILES)).getMessage();
  }

  @Test
  void defaultsAndTypedValues() {
    BenchArgs a = BenchArgs.parse(extras("run_id", "r-1.a_b", "threads", 4, "cooldown", 0.5f, "delegate", "gpu"), 7L,
        PUSH, FILES);
    assertEquals("r-1.a_b", a.runId);
    assertEquals(4, a.config.threads);
    assertEquals(10, a.config.warmup);
    assertEquals(100, a.config.iterations);
    assertEquals(0.5, a.config.cooldownS, 0.0);
    assertEquals("gpu", a.delegate);
    assertNull(a.imagePath);
    assertEquals("run-7", BenchArgs.parse(extras(), 7L, PUSH, FILES).runId);
    assertEquals(FILES + "/models/m.pte", BenchArgs.parse(extras("model_path", FILES + "/models/m.pte"), 7L, PUSH, FILES).modelPath);
  }

  @Test
  void runIdsThatCannotNameAFile() {
    for (String bad : new String[] {"", ".hidden", "a b", "a;rm -rf /", "a/b", "$(reboot)", new String(new char[129]).replace('\0', 'x')}) {
      String msg = assertThrows(IllegalArgumentException.class, () -> BenchArgs.runId(extras("run_id", bad), 1L)).getMessage();
      assertTrue(msg.contains("must be 1-128 characters"), msg);
    }
    assertTrue(refused(extras("run_id", 5)).contains("run_id must be a string (--es), got an int (--ei)"));
  }

  @Test
  void pathsMustBeCleanAndInsideTheAppsFolders() {
    assertTrue(refused(extras("model_path", null)).contains("missing extra model_path"));
    assertTrue(refused(extras("model_path", PUSH + "/my model.tflite")).contains("no spaces or shell characters"));
    assertTrue(refused(extras("model_path", PUSH + "/m;reboot")).contains("no spaces or shell characters"));
    assertTrue(refused(extras("model_path", PUSH + "/../../../etc/passwd")).contains("normalized path"));
    assertTrue(refused(extras("model_path", PUSH + "//m.pte")).contains("normalized path"));
    assertTrue(refused(extras("model_path", "/sdcard/m.pte")).contains("outside the folders the app reads"));
    assertTrue(refused(extras("model_path", PUSH + "x/m.pte")).contains("outside the folders the app reads"));
    assertTrue(refused(extras("image_path", "relative.jpg")).contains("absolute path"));
  }

  @Test
  void numbersAreTypeAndRangeChecked() {
    assertTrue(refused(extras("threads", "4")).contains("threads must be an int (--ei), got a string (--es)"));
    assertTrue(refused(extras("threads", -1)).contains("threads must be in 0..256"));
    assertTrue(refused(extras("iterations", 0)).contains("iterations must be in 1.."));
    assertTrue(refused(extras("warmup", 2000000)).contains("warmup must be in 0.."));
    assertTrue(refused(extras("cooldown", 1)).contains("cooldown must be a float (--ef), got an int (--ei)"));
    assertTrue(refused(extras("duration", Float.NaN)).contains("duration must be 0..3600"));
    assertTrue(refused(extras("duration", 1e9f)).contains("duration must be 0..3600"));
    assertTrue(refused(extras("delegate", "tpu")).contains("delegate must be one of"));
    assertTrue(refused(extras("iterationz", 5)).contains("unknown extra 'iterationz'"));
  }
}
