package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ModelManifestTest {
  // The shape toolkit/export/manifest.py writes (trimmed to the fields the app reads, plus extras).
  static final String MANIFEST =
      "{\"manifest_version\": 1,"
          + "\"artifact\": {\"file\": \"mobilenet_v1-a0.25-r32-executorch-fp32.pte\", \"format\": \"pte\","
          + "  \"sha256\": \"" + repeat("ab", 32) + "\", \"size_bytes\": 123},"
          + "\"variant\": {\"name\": \"mobilenet_v1-a0.25-r32\", \"alpha\": 0.25, \"resolution\": 32,"
          + "  \"num_classes\": 10},"
          + "\"target\": \"executorch\", \"precision\": \"fp32\","
          + "\"runtime\": {\"name\": \"executorch\", \"version\": \"1.5.1\"}, \"delegate\": \"xnnpack\","
          + "\"input\": {\"shape\": [1, 3, 32, 32], \"layout\": \"nchw\", \"dtype\": \"float32\"},"
          + "\"output\": {\"shape\": [1, 10], \"kind\": \"logits\"},"
          + "\"preprocessing\": {\"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5], \"crop_fraction\": 0.875,"
          + "  \"interpolation\": \"bilinear\", \"scale\": [0.0078, 0.0078, 0.0078], \"bias\": [-1, -1, -1]},"
          + "\"labels_file\": \"mobilenet_v1-a0.25-r32-executorch-fp32.pte.labels.txt\","
          + "\"weights\": {\"kind\": \"random\", \"sha256\": null}, \"parity\": null}";

  static String repeat(String s, int n) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < n; i++) {
      sb.append(s);
    }
    return sb.toString();
  }

  @Test
  void readsTheFieldsTheAppNeeds() {
    ModelManifest m = ModelManifest.parse(MANIFEST);
    assertEquals(32, m.resolution);
    assertEquals(10, m.numClasses);
    assertArrayEquals(new long[] {1, 3, 32, 32}, m.inputShape);
    assertEquals("nchw", m.layout);
    assertEquals(0.875, m.cropFraction, 0.0);
    assertEquals("mobilenet_v1-a0.25-r32-executorch-fp32.pte.labels.txt", m.labelsFile);
    assertEquals("executorch", m.runtime);
    assertEquals("random", m.weights);
    assertEquals(32, m.preprocess().resolution);
  }

  @Test
  void namesTheMissingField() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ModelManifest.parse(MANIFEST.replace("\"input\"", "\"inp\"")));
    assertTrue(e.getMessage().contains("'input'"), e.getMessage());
  }

  @Test
  void rejectsDynamicShapes() {
    String dyn = MANIFEST.replace("[1, 3, 32, 32]", "[\"N\", 3, 32, 32]");
    assertThrows(IllegalArgumentException.class, () -> ModelManifest.parse(dyn));
  }

  @Test
  void readsTheIoContract() {
    ModelManifest m = ModelManifest.parse(MANIFEST);
    assertEquals("float32", m.inputSpec.dtype);
    assertEquals("nchw", m.inputSpec.layout);
    assertEquals("float32", m.outputSpec.dtype); // no output.dtype: an older manifest, float32
    assertEquals(40, m.outputSpec.nbytes());
    assertEquals("logits", m.outputKind);
    String int8 = MANIFEST.replace("\"layout\": \"nchw\", \"dtype\": \"float32\"}",
        "\"layout\": \"nchw\", \"dtype\": \"int8\", \"quantization\": {\"scale\": 0.0078125, \"zero_point\": -1}}");
    ModelManifest q = ModelManifest.parse(int8);
    assertTrue(q.inputSpec.quantized);
    assertEquals(0.0078125f, q.inputSpec.scale, 0f);
    assertEquals(-1, q.inputSpec.zeroPoint);
    assertEquals(3 * 32 * 32, q.inputSpec.nbytes());
  }

  @Test
  void refusesWhatTheAppCannotFeed() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ModelManifest.parse(MANIFEST.replace("\"dtype\": \"float32\"", "\"dtype\": \"bfloat16\"")));
    assertTrue(e.getMessage().contains("bfloat16") && e.getMessage().contains("cannot feed"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> ModelManifest.parse(MANIFEST.replace("\"dtype\": \"float32\"", "\"dtype\": \"uint8\"")));
    assertTrue(e.getMessage().contains("no quantization"), e.getMessage());
  }

  @Test
  void labelsMustStayBesideTheArtifact() throws Exception {
    for (String bad : new String[] {"../secret.txt", "/etc/passwd", "a/b.txt", "..", "a\\\\b"}) {
      String m = MANIFEST.replace("mobilenet_v1-a0.25-r32-executorch-fp32.pte.labels.txt", bad);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelManifest.parse(m), bad);
      assertTrue(e.getMessage().contains("leaves the artifact's folder"), e.getMessage());
    }
    java.io.File dir = java.nio.file.Files.createTempDirectory("labels").toFile();
    java.io.File outside = java.io.File.createTempFile("outside", ".txt");
    java.io.File link = new java.io.File(dir, "m.pte.labels.txt");
    java.nio.file.Files.createSymbolicLink(link.toPath(), outside.toPath());
    ModelManifest m = ModelManifest.parse(MANIFEST.replace("mobilenet_v1-a0.25-r32-executorch-fp32.pte.labels.txt",
        "m.pte.labels.txt"));
    assertThrows(IllegalArgumentException.class, () -> m.labelsPath(new java.io.File(dir, "m.pte")));
  }
}
