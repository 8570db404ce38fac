package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class PreprocessTest {
  private static final double[] HALF = {0.5, 0.5, 0.5};

  @Test
  void normalizeMapsToMinusOneOne() {
    Preprocess p = new Preprocess(1, HALF, HALF, 1.0, "nchw");
    float[] x = p.normalize(new int[] {0xFF00FF80});
    assertEquals(-1.0f, x[0], 0.0f); // R = 0
    assertEquals(1.0f, x[1], 0.0f); // G = 255
    assertEquals(128f / 255f / 0.5f - 1f, x[2], 1e-7f); // B = 128
  }

  @Test
  void layoutsHoldTheSameValuesTransposed() {
    int[] px = {0xFF010203, 0xFF040506, 0xFF070809, 0xFF0A0B0C};
    float[] chw = new Preprocess(2, HALF, HALF, 1.0, "nchw").normalize(px);
    float[] hwc = new Preprocess(2, HALF, HALF, 1.0, "nhwc").normalize(px);
    for (int i = 0; i < 4; i++) {
      for (int c = 0; c < 3; c++) {
        assertEquals(chw[c * 4 + i], hwc[i * 3 + c], 0.0f);
      }
    }
  }

  @Test
  void resizedSizeRoundsHalfToEvenLikePython() {
    // res 160 / 0.875 = 182.857...; a 300x200 photo scales by 0.914285...: 274.28 -> 274, 182.86 -> 183
    Preprocess p = new Preprocess(160, HALF, HALF, 0.875, "nchw");
    assertArrayEquals(new int[] {274, 183}, p.resizedSize(300, 200));
    // crop 1.0, res 2: a 5x4 image scales by 0.5 -> 2.5 rounds to 2 (half-to-even), kept >= res
    Preprocess q = new Preprocess(2, HALF, HALF, 1.0, "nchw");
    assertArrayEquals(new int[] {2, 2}, q.resizedSize(5, 4));
  }

  @Test
  void resizeOfConstantImageIsConstant() {
    int[] px = new int[37 * 23];
    java.util.Arrays.fill(px, 0xFF336699);
    int[] out = Preprocess.resizeBilinear(px, 37, 23, 11, 7);
    for (int v : out) {
      assertEquals(0xFF336699, v);
    }
  }

  @Test
  void resizeDownByTwoWidensTheTriangleLikePillow() {
    // A 4x1 ramp halved: the triangle filter is stretched to support 2, so each output mixes three
    // inputs with weights 3:3:1. Pillow 13 gives [15, 87] for Image.resize((2, 1), BILINEAR).
    int[] px = {0xFF000000, 0xFF020202, 0xFF646464, 0xFF666666};
    int[] out = Preprocess.resizeBilinear(px, 4, 1, 2, 1);
    assertEquals(15, out[0] & 0xFF);
    assertEquals(87, out[1] & 0xFF);
  }

  @Test
  void centerCropTakesTheMiddle() {
    int[] px = new int[4 * 2];
    for (int i = 0; i < px.length; i++) {
      px[i] = 0xFF000000 | (i * 20);
    }
    // crop 1.0, res 2 on 4x2: no resize needed (short side already 2), crop columns 1..2
    int[] out = new Preprocess(2, HALF, HALF, 1.0, "nchw").resizeAndCrop(px, 4, 2);
    assertArrayEquals(new int[] {px[1], px[2], px[5], px[6]}, out);
  }

  @Test
  void rejectsBadConfig() {
    assertThrows(IllegalArgumentException.class, () -> new Preprocess(8, HALF, HALF, 0.0, "nchw"));
    assertThrows(IllegalArgumentException.class, () -> new Preprocess(8, HALF, HALF, 1.0, "chw"));
    assertThrows(IllegalArgumentException.class, () -> new Preprocess(8, HALF, new double[] {1, 0, 1}, 1, "nchw"));
    Preprocess p = new Preprocess(2, HALF, HALF, 1.0, "nchw");
    assertThrows(IllegalArgumentException.class, () -> p.normalize(new int[3]));
  }
}
