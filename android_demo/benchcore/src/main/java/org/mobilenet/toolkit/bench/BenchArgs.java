package org.mobilenet.toolkit.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The headless benchmark's arguments, parsed and checked from the start intent's extras (adb's
 * {@code am start --es/--ei/--ef}, or a device farm's test host running the same command): every
 * value has its type and range checked, the run id is a safe file name, and every path is an
 * absolute, normalized path inside the push folder or the app's own files. The same rules are
 * applied on the host before anything is pushed ({@code toolkit/profile/android.py}).
 */
public final class BenchArgs {
  /** run_id: 1..128 of [A-Za-z0-9._-], not starting with a dot; it names the result file. */
  public static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}");
  /** Device paths the app accepts: absolute, made of [A-Za-z0-9._/-] only (no spaces, no shell characters). */
  static final Pattern PATH = Pattern.compile("/[A-Za-z0-9._/-]+");
  public static final List<String> DELEGATES = Arrays.asList("xnnpack", "gpu", "nnapi", "cpu");
  static final List<String> KEYS = Arrays.asList(
      "model_path", "run_id", "threads", "warmup", "iterations", "cooldown", "duration", "delegate", "image_path");
  // Upper bounds keep a typo from running for days or allocating gigabytes; the host checks the same.
  public static final int MAX_THREADS = 256;
  public static final int MAX_WARMUP = 1000000;
  public static final int MAX_ITERATIONS = 1000000;
  public static final double MAX_SECONDS = 3600.0;

  public String modelPath;
  public String runId;
  public String delegate; // null: the runtime's default
  public String imagePath; // null: the bundled photo
  public final BenchmarkLoop.Config config = new BenchmarkLoop.Config();

  /** The run id from the extras (checked), or a fresh one when absent. */
  public static String runId(Map<String, Object> extras, long nowMillis) {
    Object v = extras.get("run_id");
    if (v == null) {
      return "run-" + nowMillis;
    }
    if (!(v instanceof String)) {
      throw new IllegalArgumentException("extra run_id must be a string (--es), got " + typeName(v));
    }
    String id = (String) v;
    if (!RUN_ID.matcher(id).matches()) {
      throw new IllegalArgumentException("run_id '" + printable(id)
          + "' must be 1-128 characters of A-Z a-z 0-9 . _ - and not start with a dot");
    }
    return id;
  }

  /**
   * Every extra checked; {@code roots} are the device folders model_path and image_path must lie in.
   * Unknown extras are refused so a misspelled option cannot silently fall back to a default.
   */
  public static BenchArgs parse(Map<String, Object> extras, long nowMillis, String... roots) {
    for (String key : extras.keySet()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException("unknown extra '" + printable(key) + "'; expected some of " + KEYS);
      }
    }
    BenchArgs a = new BenchArgs();
    a.runId = runId(extras, nowMillis);
    a.modelPath = path(extras, "model_path", true, roots);
    a.imagePath = path(extras, "image_path", false, roots);
    a.config.threads = integer(extras, "threads", 0, 0, MAX_THREADS);
    a.config.warmup = integer(extras, "warmup", 10, 0, MAX_WARMUP);
    a.config.iterations = integer(extras, "iterations", 100, 1, MAX_ITERATIONS);
    a.config.cooldownS = seconds(extras, "cooldown");
    a.config.durationS = seconds(extras, "duration");
    Object d = extras.get("delegate");
    if (d != null) {
      if (!(d instanceof String) || !DELEGATES.contains(d)) {
        throw new IllegalArgumentException("extra delegate must be one of " + DELEGATES + ", got " + printable(String.valueOf(d)));
      }
      a.delegate = (String) d;
    }
    a.config.validate();
    return a;
  }

  private static int integer(Map<String, Object> extras, String key, int dflt, int min, int max) {
    Object v = extras.get(key);
    if (v == null) {
      return dflt;
    }
    if (!(v instanceof Integer)) {
      throw new IllegalArgumentException("extra " + key + " must be an int (--ei), got " + typeName(v));
    }
    int i = ((Integer) v).intValue();
    if (i < min || i > max) {
      throw new IllegalArgumentException("extra " + key + " must be in " + min + ".." + max + ", got " + i);
    }
    return i;
  }

  private static double seconds(Map<String, Object> extras, String key) {
    Object v = extras.get(key);
    if (v == null) {
      return 0.0;
    }
    if (!(v instanceof Float)) {
      throw new IllegalArgumentException("extra " + key + " must be a float (--ef), got " + typeName(v));
    }
    double s = ((Float) v).doubleValue();
    if (!(s >= 0 && s <= MAX_SECONDS)) {
      throw new IllegalArgumentException("extra " + key + " must be 0.." + MAX_SECONDS + " seconds, got " + s);
    }
    return s;
  }

  private static String path(Map<String, Object> extras, String key, boolean required, String... roots) {
    Object v = extras.get(key);
    if (v == null) {
      if (required) {
        throw new IllegalArgumentException("missing extra " + key + " (--es " + key + " /path/on/the/phone)");
      }
      return null;
    }
    if (!(v instanceof String)) {
      throw new IllegalArgumentException("extra " + key + " must be a string (--es), got " + typeName(v));
    }
    String p = (String) v;
    if (!PATH.matcher(p).matches()) {
      throw new IllegalArgumentException(key + " '" + printable(p)
          + "' must be an absolute path of A-Z a-z 0-9 . _ - / only (no spaces or shell characters)");
    }
    for (String part : p.substring(1).split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        throw new IllegalArgumentException(key + " '" + p + "' must be a normalized path (no '.', '..' or '//')");
      }
    }
    for (String root : roots) {
      if (p.startsWith(root + "/")) {
        return p;
      }
    }
    throw new IllegalArgumentException(key + " '" + p + "' is outside the folders the app reads: " + Arrays.toString(roots));
  }

  private static String typeName(Object v) {
    if (v instanceof Integer) {
      return "an int (--ei)";
    }
    if (v instanceof Long) {
      return "a long (--el)";
    }
    if (v instanceof Float) {
      return "a float (--ef)";
    }
    if (v instanceof Boolean) {
      return "a boolean (--ez)";
    }
    if (v instanceof String) {
      return "a string (--es)";
    }
    return v.getClass().getSimpleName();
  }

  /** A value safe to echo in one log line or JSON string: control characters replaced, length capped. */
  static String printable(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length() && i < 200; i++) {
      char c = s.charAt(i);
      sb.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return s.length() > 200 ? sb.append("...").toString() : sb.toString();
  }
}
