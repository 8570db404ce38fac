package org.mobilenet.toolkit.bench;

/**
 * The toolkit's preprocessing ({@code toolkit.data.Preprocessing}) on ARGB pixels, as Android's
 * {@code Bitmap.getPixels} returns them: resize the short side to {@code resolution / crop_fraction},
 * center-crop to {@code resolution}, then {@code x = (pixel / 255 - mean) / std} per RGB channel in
 * float32, laid out NCHW or NHWC as the model's manifest says.
 *
 * <p>The resize is a port of Pillow's BILINEAR resampling (a triangle filter widened by the
 * downscale factor, 22-bit fixed-point coefficients, horizontal pass then vertical pass), so a photo
 * preprocessed on the phone matches the host's parity inputs instead of Bitmap's different filter.
 */
public final class Preprocess {
  private static final int PRECISION_BITS = 32 - 8 - 2;

  public final int resolution;
  public final float[] mean;
  public final float[] std;
  public final double cropFraction;
  public final boolean nhwc;

  public Preprocess(int resolution, double[] mean, double[] std, double cropFraction, String layout) {
    if (resolution <= 0) {
      throw new IllegalArgumentException("resolution must be positive, got " + resolution);
    }
    if (mean.length != 3 || std.length != 3) {
      throw new IllegalArgumentException("mean and std need one value per RGB channel");
    }
    if (!(cropFraction > 0.0 && cropFraction <= 1.0)) {
      throw new IllegalArgumentException("crop_fraction must be in (0, 1], got " + cropFraction);
    }
    if (!"nchw".equals(layout) && !"nhwc".equals(layout)) {
      throw new IllegalArgumentException("layout must be nchw or nhwc, got " + layout);
    }
    this.resolution = resolution;
    this.mean = new float[3];
    this.std = new float[3];
    for (int c = 0; c < 3; c++) {
      if (std[c] <= 0) {
        throw new IllegalArgumentException("std must be positive");
      }
      this.mean[c] = (float) mean[c];
      this.std[c] = (float) std[c];
    }
    this.cropFraction = cropFraction;
    this.nhwc = "nhwc".equals(layout);
  }

  /** The model input for one photo: resize, center crop, normalize. */
  public float[] apply(int[] argb, int width, int height) {
    return normalize(resizeAndCrop(argb, width, height));
  }

  /** {@code [newWidth, newHeight]} after scaling the short side, rounded half-to-even like Python. */
  public int[] resizedSize(int width, int height) {
    double shortSide = resolution / cropFraction;
    double scale = shortSide / Math.min(width, height);
    int w = Math.max(resolution, (int) Math.rint(width * scale));
    int h = Math.max(resolution, (int) Math.rint(height * scale));
    return new int[] {w, h};
  }

  /** Resize the short side and center-crop to resolution × resolution ARGB pixels. */
  public int[] resizeAndCrop(int[] argb, int width, int height) {
    int[] size = resizedSize(width, height);
    int[] resized = resizeBilinear(argb, width, height, size[0], size[1]);
    int left = (size[0] - resolution) / 2;
    int top = (size[1] - resolution) / 2;
    int[] out = new int[resolution * resolution];
    for (int y = 0; y < resolution; y++) {
      System.arraycopy(resized, (top + y) * size[0] + left, out, y * resolution, resolution);
    }
    return out;
  }

  /** resolution² ARGB pixels to float32 in the model's layout (alpha ignored). */
  public float[] normalize(int[] argb) {
    int hw = resolution * resolution;
    if (argb.length != hw) {
      throw new IllegalArgumentException("expected " + hw + " pixels, got " + argb.length);
    }
    float[] out = new float[3 * hw];
    for (int i = 0; i < hw; i++) {
      int p = argb[i];
      for (int c = 0; c < 3; c++) {
        int v = (p >> (16 - 8 * c)) & 0xFF;
        float x = ((float) v / 255.0f - mean[c]) / std[c];
        out[nhwc ? i * 3 + c : c * hw + i] = x;
      }
    }
    return out;
  }

  /** Pillow's {@code Image.resize(size, BILINEAR)} on ARGB pixels (alpha set opaque). */
  public static int[] resizeBilinear(int[] argb, int width, int height, int outW, int outH) {
    int[] img = argb;
    int w = width;
    if (outW != width) {
      img = pass(img, width, height, outW, true);
      w = outW;
    }
    if (outH != height) {
      img = pass(img, w, height, outH, false);
    }
    if (img == argb) {
      img = argb.clone();
    }
    return img;
  }

  /** One separable pass along x (horizontal) or y, Pillow's precompute_coeffs + 8-bit resample. */
  private static int[] pass(int[] in, int w, int h, int outSize, boolean horizontal) {
    int inSize = horizontal ? w : h;
    double scale = (double) inSize / outSize;
    double filterscale = Math.max(scale, 1.0);
    double support = filterscale; // bilinear support 1.0, widened when shrinking
    int ksize = (int) Math.ceil(support) * 2 + 1;
    int[] bounds = new int[outSize * 2];
    int[] kk = new int[outSize * ksize];
    double[] k = new double[ksize];
    for (int xx = 0; xx < outSize; xx++) {
      double center = (xx + 0.5) * scale;
      double ww = 0.0;
      double ss = 1.0 / filterscale;
      int xmin = Math.max(0, (int) (center - support + 0.5));
      int xmax = Math.min(inSize, (int) (center + support + 0.5)) - xmin;
      for (int x = 0; x < xmax; x++) {
        double t = Math.abs((x + xmin - center + 0.5) * ss);
        k[x] = t < 1.0 ? 1.0 - t : 0.0;
        ww += k[x];
      }
      for (int x = 0; x < xmax; x++) {
        double v = ww != 0.0 ? k[x] / ww : k[x];
        kk[xx * ksize + x] = (int) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
      }
      bounds[xx * 2] = xmin;
      bounds[xx * 2 + 1] = xmax;
    }
    int outW = horizontal ? outSize : w;
    int outH = horizontal ? h : outSize;
    int[] out = new int[outW * outH];
    for (int yy = 0; yy < outH; yy++) {
      for (int xx = 0; xx < outW; xx++) {
        int j = horizontal ? xx : yy;
        int min = bounds[j * 2];
        int n = bounds[j * 2 + 1];
        int r = 1 << (PRECISION_BITS - 1);
        int g = r;
        int b = r;
        for (int t = 0; t < n; t++) {
          int p = horizontal ? in[yy * w + min + t] : in[(min + t) * w + xx];
          int c = kk[j * ksize + t];
          r += ((p >> 16) & 0xFF) * c;
          g += ((p >> 8) & 0xFF) * c;
          b += (p & 0xFF) * c;
        }
        out[yy * outW + xx] = 0xFF000000 | (clip8(r) << 16) | (clip8(g) << 8) | clip8(b);
      }
    }
    return out;
  }

  private static int clip8(int v) {
    int x = v >> PRECISION_BITS;
    return x < 0 ? 0 : (x > 255 ? 255 : x);
  }
}
