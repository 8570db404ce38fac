package org.mobilenet.toolkit.bench;

import java.util.List;
import java.util.Map;

/**
 * The fields of {@code <artifact>.manifest.json} (written by {@code toolkit/export/manifest.py})
 * the app needs: input size and layout, preprocessing, labels file, and the artifact's identity.
 * The app reads this, never the file name (an artifact may be renamed).
 */
public final class ModelManifest {
  public String file;
  public String format;
  public String sha256;
  public String variant;
  public double alpha;
  public int resolution;
  public int numClasses;
  public long[] inputShape;
  public String layout;
  public double[] mean;
  public double[] std;
  public double cropFraction;
  public String labelsFile; // a plain file name beside the artifact, or null
  public TensorSpec inputSpec;
  public TensorSpec outputSpec;
  public String outputKind; // "logits" (default) or "probabilities"
  public String target;
  public String precision;
  public String runtime;
  public String delegate;
  public String weights;

  /** Parses manifest JSON; IllegalArgumentException names the missing or malformed field. */
  @SuppressWarnings("unchecked")
  public static ModelManifest parse(String text) {
    Object root = Json.parse(text);
    if (!(root instanceof Map)) {
      throw new IllegalArgumentException("manifest is not a JSON object");
    }
    Map<String, Object> m = (Map<String, Object>) root;
    ModelManifest mf = new ModelManifest();
    Map<String, Object> artifact = obj(m, "artifact");
    mf.file = str(artifact, "file", true);
    mf.format = str(artifact, "format", false);
    mf.sha256 = str(artifact, "sha256", false);
    Map<String, Object> variant = obj(m, "variant");
    mf.variant = str(variant, "name", false);
    mf.alpha = num(variant, "alpha");
    mf.resolution = (int) num(variant, "resolution");
    mf.numClasses = (int) num(variant, "num_classes");
    Map<String, Object> input = obj(m, "input");
    List<Object> shape = (List<Object>) need(input, "shape");
    mf.inputShape = new long[shape.size()];
    for (int i = 0; i < shape.size(); i++) {
      if (!(shape.get(i) instanceof Number)) {
        throw new IllegalArgumentException("manifest input.shape must be static numbers, got " + shape);
      }
      mf.inputShape[i] = ((Number) shape.get(i)).longValue();
    }
    mf.layout = str(input, "layout", true);
    mf.inputSpec = TensorSpec.fromManifest(m, "input");
    mf.outputSpec = TensorSpec.fromManifest(m, "output");
    mf.outputKind = str(obj(m, "output"), "kind", false);
    Map<String, Object> prep = obj(m, "preprocessing");
    mf.mean = triple(prep, "mean");
    mf.std = triple(prep, "std");
    mf.cropFraction = prep.containsKey("crop_fraction") ? num(prep, "crop_fraction") : 0.875;
    mf.labelsFile = str(m, "labels_file", false);
    if (mf.labelsFile != null) {
      checkPlainName(mf.labelsFile);
    }
    mf.target = str(m, "target", false);
    mf.precision = str(m, "precision", false);
    mf.delegate = str(m, "delegate", false);
    if (m.get("runtime") instanceof Map) {
      mf.runtime = str((Map<String, Object>) m.get("runtime"), "name", false);
    }
    if (m.get("weights") instanceof Map) {
      mf.weights = str((Map<String, Object>) m.get("weights"), "kind", false);
    }
    return mf;
  }

  /**
   * The labels file beside {@code artifact}, or null when the manifest names none. The name was
   * checked to be a plain file name when parsed; the canonical check here also refuses a symlink
   * that points out of the folder.
   */
  public java.io.File labelsPath(java.io.File artifact) throws java.io.IOException {
    if (labelsFile == null) {
      return null;
    }
    java.io.File dir = artifact.getCanonicalFile().getParentFile();
    java.io.File f = new java.io.File(dir, labelsFile);
    if (!dir.equals(f.getCanonicalFile().getParentFile())) {
      throw new IllegalArgumentException("manifest labels_file '" + labelsFile + "' leaves the artifact's folder");
    }
    return f;
  }

  /** A labels_file must name a file in the artifact's own folder: no separators, no "." or "..". */
  static void checkPlainName(String name) {
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0
        || name.indexOf('\\') >= 0 || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("manifest labels_file '" + name
          + "' leaves the artifact's folder; it must name a file beside the artifact");
    }
  }

  /** The preprocessing this model was exported with. */
  public Preprocess preprocess() {
    return new Preprocess(resolution, mean, std, cropFraction, layout);
  }

  private static Object need(Map<String, Object> m, String key) {
    if (!m.containsKey(key) || m.get(key) == null) {
      throw new IllegalArgumentException("manifest is missing '" + key + "'");
    }
    return m.get(key);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> obj(Map<String, Object> m, String key) {
    Object v = need(m, key);
    if (!(v instanceof Map)) {
      throw new IllegalArgumentException("manifest '" + key + "' must be an object");
    }
    return (Map<String, Object>) v;
  }

  private static String str(Map<String, Object> m, String key, boolean required) {
    Object v = required ? need(m, key) : m.get(key);
    return v == null ? null : v.toString();
  }

  private static double num(Map<String, Object> m, String key) {
    Object v = need(m, key);
    if (!(v instanceof Number)) {
      throw new IllegalArgumentException("manifest '" + key + "' must be a number, got " + v);
    }
    return ((Number) v).doubleValue();
  }

  private static double[] triple(Map<String, Object> m, String key) {
    Object v = need(m, key);
    if (!(v instanceof List) || ((List<?>) v).size() != 3) {
      throw new IllegalArgumentException("manifest '" + key + "' must list 3 numbers");
    }
    double[] out = new double[3];
    for (int i = 0; i < 3; i++) {
      out[i] = ((Number) ((List<?>) v).get(i)).doubleValue();
    }
    return out;
  }
}
