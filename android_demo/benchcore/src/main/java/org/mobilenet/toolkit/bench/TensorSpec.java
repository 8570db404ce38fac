package org.mobilenet.toolkit.bench;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What one model input or output holds, as the artifact's manifest declares it: dtype, static shape,
 * layout (inputs) and, for integer tensors, the affine quantization {@code q = round(x / scale) + zp}.
 * The Java twin of {@code toolkit.runtimes.io.TensorSpec}; the same manifest gives the same answers.
 */
public final class TensorSpec {
  /** The dtypes the I/O contract knows, with their element sizes in bytes. */
  public static final List<String> DTYPES = Arrays.asList("float32", "float16", "int8", "uint8");

  public final String dtype;
  public final long[] shape;
  public final String layout; // null for outputs
  public final boolean quantized;
  public final float scale; // NaN when not quantized
  public final int zeroPoint;

  public TensorSpec(String dtype, long[] shape, String layout, Double scale, Integer zeroPoint) {
    if (!DTYPES.contains(dtype)) {
      throw new IllegalArgumentException("unsupported tensor dtype " + dtype + "; the app feeds " + DTYPES);
    }
    for (long d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException("tensor shape must be static positive sizes, got " + Arrays.toString(shape));
      }
    }
    if (scale != null && !(scale.doubleValue() > 0 && !Double.isInfinite(scale.doubleValue()))) {
      throw new IllegalArgumentException("quantization scale must be > 0, got " + scale);
    }
    this.dtype = dtype;
    this.shape = shape.clone();
    this.layout = layout;
    this.quantized = scale != null && zeroPoint != null;
    this.scale = quantized ? scale.floatValue() : Float.NaN;
    this.zeroPoint = quantized ? zeroPoint.intValue() : 0;
    if (isInteger() && !quantized) {
      throw new IllegalArgumentException("a " + dtype + " tensor needs its quantization (scale, zero_point)");
    }
    if (quantized && (zeroPoint.intValue() < minInt() || zeroPoint.intValue() > maxInt())) {
      throw new IllegalArgumentException("zero point " + zeroPoint + " is outside " + dtype);
    }
  }

  /**
   * The {@code input} or {@code output} block of a manifest. A block without {@code dtype} is float32
   * (manifests written before the field existed).
   */
  @SuppressWarnings("unchecked")
  public static TensorSpec fromManifest(Map<String, Object> manifest, String side) {
    Object b = manifest.get(side);
    if (!(b instanceof Map)) {
      throw new IllegalArgumentException("manifest is missing its '" + side + "' block");
    }
    Map<String, Object> block = (Map<String, Object>) b;
    Object s = block.get("shape");
    if (!(s instanceof List) || ((List<Object>) s).isEmpty()) {
      throw new IllegalArgumentException("manifest " + side + ".shape must list static sizes, got " + s);
    }
    List<Object> list = (List<Object>) s;
    long[] shape = new long[list.size()];
    for (int i = 0; i < shape.length; i++) {
      if (!(list.get(i) instanceof Long)) {
        throw new IllegalArgumentException("manifest " + side + ".shape must be static integers, got " + s);
      }
      shape[i] = ((Long) list.get(i)).longValue();
    }
    Object dt = block.containsKey("dtype") ? block.get("dtype") : "float32";
    if (!(dt instanceof String)) {
      throw new IllegalArgumentException("manifest " + side + ".dtype must be a string, got " + dt);
    }
    String layout = null;
    if (side.equals("input")) {
      Object l = block.get("layout");
      if (!(l instanceof String)) {
        throw new IllegalArgumentException("manifest input.layout is missing");
      }
      layout = (String) l;
    }
    Double scale = null;
    Integer zeroPoint = null;
    Object q = block.get("quantization");
    if (q instanceof Map) {
      Object sc = ((Map<String, Object>) q).get("scale");
      Object zp = ((Map<String, Object>) q).get("zero_point");
      if (!(sc instanceof Number) || !(zp instanceof Long)) {
        throw new IllegalArgumentException("manifest " + side + ".quantization needs a numeric scale and integer zero_point");
      }
      scale = Double.valueOf(((Number) sc).doubleValue());
      zeroPoint = Integer.valueOf(((Long) zp).intValue());
    } else if (q != null) {
      throw new IllegalArgumentException("manifest " + side + ".quantization must be an object");
    }
    String dtype = (String) dt;
    if (!DTYPES.contains(dtype)) {
      throw new IllegalArgumentException(
          "the model's " + side + " is " + dtype + ", which the app cannot " + (side.equals("input") ? "feed" : "read")
              + " (it handles " + DTYPES + ")");
    }
    if ((dtype.equals("int8") || dtype.equals("uint8")) && scale == null) {
      throw new IllegalArgumentException("manifest " + side + " is " + dtype + " but has no quantization (scale, zero_point)");
    }
    return new TensorSpec(dtype, shape, layout, scale, zeroPoint);
  }

  /**
   * The logical (N, C, H, W) sizes of an image input in either layout. ExecuTorch tensors declare these
   * whatever the program's dim order: a channels-last program (dim order 0, 2, 3, 1, the manifest's
   * {@code nhwc}) takes sizes [1, 3, H, W] over NHWC bytes. Its Java API builds only contiguous tensors
   * (no dim order), and the runtime copies an input's bytes as they are into the program's own input
   * tensor (method.cpp set_input checks dtype and sizes, not dim order), so the NHWC buffer is handed over
   * unchanged with these sizes.
   */
  public long[] nchwSizes() {
    if ("nchw".equals(layout)) {
      return shape.clone();
    }
    if (!"nhwc".equals(layout) || shape.length != 4) {
      throw new IllegalArgumentException("input layout '" + layout + "' has no NCHW sizes; the app feeds nchw or nhwc");
    }
    return new long[] {shape[0], shape[3], shape[1], shape[2]};
  }

  public boolean isInteger() {
    return dtype.equals("int8") || dtype.equals("uint8");
  }

  public int elementSize() {
    return dtype.equals("float32") ? 4 : dtype.equals("float16") ? 2 : 1;
  }

  public int numel() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    if (n > Integer.MAX_VALUE / 4) {
      throw new IllegalArgumentException("tensor " + Arrays.toString(shape) + " is too large");
    }
    return (int) n;
  }

  public int nbytes() {
    return numel() * elementSize();
  }

  int minInt() {
    return dtype.equals("int8") ? -128 : 0;
  }

  int maxInt() {
    return dtype.equals("int8") ? 127 : 255;
  }

  /** e.g. {@code int8 [1, 32, 32, 3] (scale 0.0078, zero point 0)}, for messages. */
  @Override
  public String toString() {
    String q = quantized ? " (scale " + scale + ", zero point " + zeroPoint + ")" : "";
    return dtype + " " + Arrays.toString(shape) + q;
  }
}
