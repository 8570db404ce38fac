package org.mobilenet.toolkit.bench;

import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;

/**
 * The shared result record ({@code toolkit/schemas/result.schema.json}, schema_version 1) written
 * by the app's headless benchmark, plus the error record written when a model is rejected.
 */
public final class JsonReport {
  public static final int SCHEMA_VERSION = 1;

  public Map<String, Object> device = new LinkedHashMap<String, Object>();
  public String runtimeName;
  public String runtimeVersion;
  public String runtimeVersionSource; // "runtime" or "declared"; null leaves it out
  public String delegate;
  public String artifactSha256;
  public String artifactFile;
  public ModelManifest manifest; // optional: adds variant, target, precision, weights
  public BenchmarkLoop.Config config;
  public BenchmarkLoop.Result result;
  public Double temperatureBefore;
  public Double temperatureAfter;
  public String thermalState;
  public Double peakMemoryMb;
  public float[] firstOutput; // decoded scores of the first inference, or null
  public List<String> notes = new ArrayList<String>();
  public Date timestamp = new Date();

  /** ISO 8601 UTC, second precision, as the Python side writes it. */
  public static String isoUtc(Date date) {
    SimpleDateFormat f = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.US);
    f.setTimeZone(TimeZone.getTimeZone("UTC"));
    return f.format(date);
  }

  /** The record as ordered maps; {@link #toJson} serializes it. */
  public Map<String, Object> toMap() {
    if (result == null || config == null || result.latenciesMs.length == 0) {
      throw new IllegalStateException("no measurement to report");
    }
    Map<String, Object> m = new LinkedHashMap<String, Object>();
    m.put("schema_version", Integer.valueOf(SCHEMA_VERSION));
    m.put("timestamp", isoUtc(timestamp));
    Map<String, Object> dev = new LinkedHashMap<String, Object>(device);
    dev.put("kind", "android");
    m.put("device", dev);
    Map<String, Object> rt = new LinkedHashMap<String, Object>();
    rt.put("name", runtimeName);
    rt.put("version", runtimeVersion);
    rt.put("delegate", delegate);
    if (runtimeVersionSource != null) {
      rt.put("version_source", runtimeVersionSource);
    }
    m.put("runtime", rt);
    Map<String, Object> art = new LinkedHashMap<String, Object>();
    art.put("sha256", artifactSha256);
    art.put("file", artifactFile);
    if (manifest != null) {
      art.put("variant", manifest.variant);
      art.put("target", manifest.target);
      art.put("precision", manifest.precision);
      art.put("weights", manifest.weights);
    }
    m.put("artifact", art);
    Map<String, Object> cfg = new LinkedHashMap<String, Object>();
    cfg.put("threads", Integer.valueOf(config.threads));
    cfg.put("warmup", Integer.valueOf(config.warmup));
    cfg.put("iterations", Integer.valueOf(config.durationS > 0 ? result.latenciesMs.length : config.iterations));
    cfg.put("duration_s", config.durationS > 0 ? Double.valueOf(config.durationS) : null);
    cfg.put("cooldown_s", Double.valueOf(config.cooldownS));
    cfg.put("batch", Integer.valueOf(1));
    m.put("config", cfg);
    m.put("latency_ms", result.latenciesMs);
    m.put("stats", Stats.summarize(result.latenciesMs).toMap());
    if (result.preprocessMs != null) { // the frame's preprocessing, timed beside each inference
      Map<String, Object> pre = new LinkedHashMap<String, Object>();
      pre.put("latency_ms", result.preprocessMs);
      pre.put("stats", Stats.summarize(result.preprocessMs).toMap());
      if (result.preprocessSteps != null) {
        pre.put("steps", result.preprocessSteps);
      }
      m.put("preprocess", pre);
    }
    m.put("load_ms", Double.valueOf(result.loadMs));
    m.put("first_inference_ms", Double.valueOf(result.firstInferenceMs));
    m.put("peak_memory_mb", peakMemoryMb);
    Map<String, Object> temp = new LinkedHashMap<String, Object>();
    temp.put("before", temperatureBefore);
    temp.put("after", temperatureAfter);
    temp.put("thermal_state", thermalState);
    m.put("temperature_c", temp);
    m.put("notes", new ArrayList<Object>(notes));
    if (firstOutput != null) {
      List<Object> scores = new ArrayList<Object>(firstOutput.length);
      for (float v : firstOutput) {
        scores.add(Double.valueOf(v)); // exact: a float widens to double without rounding
      }
      m.put("first_output", scores);
    }
    return m;
  }

  public String toJson() {
    return Json.write(toMap());
  }

  /**
   * The record the app writes instead of a result when it cannot measure (model rejected, bad
   * extras): {@code {"error": ..., "stage": ...}}; the toolkit shows the message as one line.
   */
  public static String errorJson(String stage, String message, String modelPath, String runId) {
    Map<String, Object> m = new LinkedHashMap<String, Object>();
    m.put("error", message == null ? "unknown error" : message.replace('\n', ' ').replace('\r', ' '));
    m.put("stage", stage);
    m.put("model_path", modelPath);
    m.put("run_id", runId);
    m.put("timestamp", isoUtc(new Date()));
    return Json.write(m);
  }
}
