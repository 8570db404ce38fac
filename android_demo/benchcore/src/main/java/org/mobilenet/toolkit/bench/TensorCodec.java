package org.mobilenet.toolkit.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The I/O contract of {@code toolkit/runtimes/io.py}, in Java, bit for bit: photo pixels written
 * straight into the model's input tensor in its layout and dtype, and the raw output read back as
 * float32 scores.
 *
 * <ul>
 *   <li>float32: {@code (pixel / 255 - mean) / std} in float32.
 *   <li>float16: that value rounded to the nearest half, ties to even ({@link Half}).
 *   <li>int8 / uint8: {@code clamp(rint(x / scale) + zero_point)}, the division in float32.
 *   <li>output int8 / uint8: {@code (q - zero_point) * scale} in float32; float16 widens exactly.
 * </ul>
 *
 * <p>The input is written pixel by pixel into its final place (NCHW or NHWC), with no float array
 * in between, so a model that takes the camera's own layout costs one pass over the pixels.
 */
public final class TensorCodec {
  private TensorCodec() {}

  /** A direct, native-order buffer of exactly {@code spec.nbytes()} bytes: what both runtimes take. */
  public static ByteBuffer allocate(TensorSpec spec) {
    return ByteBuffer.allocateDirect(spec.nbytes()).order(ByteOrder.nativeOrder());
  }

  /**
   * Checks that the app can build this input from a photo: a layout it knows, and a shape that is
   * one image of {@code resolution}² RGB pixels in that layout. Throws with the reason otherwise.
   */
  public static void checkFeedable(TensorSpec in, int resolution) {
    if ("image".equals(in.layout)) {
      throw new IllegalArgumentException(
          "input layout 'image' is a Core ML image input; the Android app feeds nchw or nhwc tensors");
    }
    if (!"nchw".equals(in.layout) && !"nhwc".equals(in.layout)) {
      throw new IllegalArgumentException("unknown input layout '" + in.layout + "'; the app feeds nchw or nhwc");
    }
    long r = resolution;
    long[] want = "nchw".equals(in.layout) ? new long[] {1, 3, r, r} : new long[] {1, r, r, 3};
    if (!java.util.Arrays.equals(in.shape, want)) {
      throw new IllegalArgumentException("manifest input shape " + java.util.Arrays.toString(in.shape)
          + " is not one " + r + "x" + r + " RGB image in " + in.layout + " (" + java.util.Arrays.toString(want) + ")");
    }
  }

  /**
   * A photo (ARGB pixels) as the model's input: checked feedable, resized and center-cropped per the
   * manifest, then written into a new direct buffer in the input's layout and dtype.
   */
  public static ByteBuffer encodePhoto(ModelManifest mf, int[] argb, int width, int height) {
    checkFeedable(mf.inputSpec, mf.resolution);
    ByteBuffer input = allocate(mf.inputSpec);
    photoFrame(mf, argb, width, height).encode(input);
    return input;
  }

  /**
   * The per-frame preprocessing of a decoded photo ({@link BenchmarkLoop.Frame}): resize and center-crop
   * per the manifest, normalize, write into the given input buffer in the input's layout and dtype. What a
   * camera app does before each inference; the benchmark times it beside every timed inference.
   */
  public static BenchmarkLoop.Frame photoFrame(final ModelManifest mf, final int[] argb, final int width,
      final int height) {
    checkFeedable(mf.inputSpec, mf.resolution);
    final Preprocess prep = mf.preprocess();
    int[] size = prep.resizedSize(width, height);
    final String steps = "resize " + width + "x" + height + " to " + size[0] + "x" + size[1] + " (bilinear), crop "
        + mf.resolution + ", normalize, write " + mf.inputSpec.dtype + " " + mf.inputSpec.layout;
    return new BenchmarkLoop.Frame() {
      @Override
      public void encode(ByteBuffer input) {
        encodePixels(prep.resizeAndCrop(argb, width, height), prep.mean, prep.std, mf.inputSpec, input);
      }

      @Override
      public String steps() {
        return steps;
      }
    };
  }

  /**
   * Writes the cropped photo ({@code resolution}² ARGB pixels, alpha ignored) into {@code dst} as
   * the model's input: normalized per channel with {@code mean}/{@code std}, in {@code spec}'s layout
   * and dtype. Absolute puts: {@code dst}'s position and limit are left as they are.
   */
  public static void encodePixels(int[] argb, float[] mean, float[] std, TensorSpec spec, ByteBuffer dst) {
    int hw = argb.length;
    if (spec.numel() != 3 * hw) {
      throw new IllegalArgumentException("input tensor " + spec + " does not hold " + hw + " RGB pixels");
    }
    if (dst.capacity() != spec.nbytes()) {
      throw new IllegalArgumentException("input buffer has " + dst.capacity() + " bytes, the tensor " + spec.nbytes());
    }
    boolean nhwc = "nhwc".equals(spec.layout);
    for (int i = 0; i < hw; i++) {
      int p = argb[i];
      for (int c = 0; c < 3; c++) {
        int v = (p >> (16 - 8 * c)) & 0xFF;
        float x = ((float) v / 255.0f - mean[c]) / std[c];
        put(dst, nhwc ? i * 3 + c : c * hw + i, x, spec);
      }
    }
  }

  /** Writes one normalized float32 value as element {@code index} of a {@code spec} tensor. */
  public static void put(ByteBuffer dst, int index, float x, TensorSpec spec) {
    switch (spec.dtype) {
      case "float32":
        dst.putFloat(index * 4, x);
        break;
      case "float16":
        dst.putShort(index * 2, Half.fromFloat(x));
        break;
      default:
        dst.put(index, (byte) quantize(x, spec));
    }
  }

  /** {@code clamp(rint(x / scale) + zero_point)}: numpy's rint rounds half to even, as Math.rint does. */
  public static int quantize(float x, TensorSpec spec) {
    float q = (float) Math.rint(x / spec.scale) + (float) spec.zeroPoint;
    if (q != q) { // NaN: numpy would give an undefined cast; the app refuses it
      throw new IllegalArgumentException("cannot quantize NaN");
    }
    return (int) Math.max(spec.minInt(), Math.min(spec.maxInt(), q));
  }

  /** The raw output tensor (native order, from index 0) as float32 scores. */
  public static float[] decode(ByteBuffer raw, TensorSpec spec) {
    int n = spec.numel();
    if (raw.limit() < spec.nbytes()) {
      throw new IllegalArgumentException("output has " + raw.limit() + " bytes, the manifest's " + spec + " needs " + spec.nbytes());
    }
    ByteBuffer b = raw.duplicate().order(raw.order());
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      switch (spec.dtype) {
        case "float32":
          out[i] = b.getFloat(i * 4);
          break;
        case "float16":
          out[i] = Half.toFloat(b.getShort(i * 2));
          break;
        case "int8":
          out[i] = ((float) b.get(i) - (float) spec.zeroPoint) * spec.scale;
          break;
        default:
          out[i] = ((float) (b.get(i) & 0xFF) - (float) spec.zeroPoint) * spec.scale;
      }
    }
    return out;
  }
}
