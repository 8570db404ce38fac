package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonReportTest {
  static JsonReport sample() {
    JsonReport r = new JsonReport();
    r.device.put("name", "Pixel 8");
    r.device.put("os", "Android 14 (API 34)");
    r.runtimeName = "executorch";
    r.runtimeVersion = "1.5.1";
    r.delegate = "xnnpack";
    r.artifactSha256 = ModelManifestTest.repeat("0f", 32);
    r.artifactFile = "m.pte";
    r.manifest = ModelManifest.parse(ModelManifestTest.MANIFEST);
    r.config = new BenchmarkLoop.Config();
    r.config.iterations = 3;
    r.result = new BenchmarkLoop.Result();
    r.result.latenciesMs = new double[] {3.0, 1.0, 2.0};
    r.result.loadMs = 4.5;
    r.result.firstInferenceMs = 7.25;
    r.timestamp = new Date(0L);
    return r;
  }

  @Test
  @SuppressWarnings("unchecked")
  void recordCarriesSamplesStatsAndIdentity() {
    Map<String, Object> m = (Map<String, Object>) Json.parse(sample().toJson());
    assertEquals(1L, m.get("schema_version"));
    assertEquals("1970-01-01T00:00:00Z", m.get("timestamp"));
    assertEquals("android", ((Map<String, Object>) m.get("device")).get("kind"));
    List<Object> lat = (List<Object>) m.get("latency_ms");
    assertEquals(3, lat.size());
    assertEquals(3.0, (Double) lat.get(0), 0.0); // run order kept, not sorted
    Map<String, Object> stats = (Map<String, Object>) m.get("stats");
    assertEquals(2.0, (Double) stats.get("median_ms"), 0.0);
    assertEquals("mobilenet_v1-a0.25-r32", ((Map<String, Object>) m.get("artifact")).get("variant"));
  }

  @Test
  @SuppressWarnings("unchecked")
  void preprocessingIsReportedBesideInferenceOnlyWhenMeasured() {
    JsonReport r = sample();
    assertEquals(null, ((Map<String, Object>) Json.parse(r.toJson())).get("preprocess"));
    r.result.preprocessMs = new double[] {0.5, 0.25, 0.75};
    r.result.preprocessSteps = "resize 96x64 to 55x36, crop 32, normalize, write float32 nhwc";
    Map<String, Object> pre = (Map<String, Object>) ((Map<String, Object>) Json.parse(r.toJson())).get("preprocess");
    assertEquals(3, ((List<Object>) pre.get("latency_ms")).size());
    assertEquals(0.5, (Double) ((Map<String, Object>) pre.get("stats")).get("median_ms"), 0.0);
    assertEquals(r.result.preprocessSteps, pre.get("steps"));
  }

  @Test
  void refusesAnEmptyMeasurement() {
    JsonReport r = sample();
    r.result.latenciesMs = new double[0];
    assertThrows(IllegalStateException.class, r::toJson);
  }

  @Test
  void errorRecordIsOneLine() {
    String s = JsonReport.errorJson("load", "bad\nmodel", "/x.pte", "r1");
    Map<?, ?> m = (Map<?, ?>) Json.parse(s);
    assertEquals("bad model", m.get("error"));
    assertTrue(s.contains("\"stage\": \"load\""));
  }
}
