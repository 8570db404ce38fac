package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class TensorCodecTest {
  static TensorSpec spec(String dtype, String layout, Double scale, Integer zp, long... shape) {
    return new TensorSpec(dtype, shape, layout, scale, zp);
  }

  @Test
  void halfRoundsToNearestEvenAndWidensExactly() {
    assertEquals((short) 0x3C00, Half.fromFloat(1.0f));
    assertEquals((short) 0x3C00, Half.fromFloat(1.0f + (float) Math.pow(2, -11))); // a tie: to even
    assertEquals((short) 0x3C01, Half.fromFloat(1.0f + 3 * (float) Math.pow(2, -12))); // past the tie: up
    assertEquals((short) 0x7C00, Half.fromFloat(65520f)); // rounds past the largest half: infinity
    assertEquals((short) 0x7BFF, Half.fromFloat(65519f));
    assertEquals((short) 0x0001, Half.fromFloat((float) Math.pow(2, -24))); // smallest subnormal
    assertEquals((short) 0x0000, Half.fromFloat((float) Math.pow(2, -25))); // tie to even: zero
    assertEquals((short) 0x8000, Half.fromFloat(-0.0f));
    assertTrue(Float.isNaN(Half.toFloat(Half.fromFloat(Float.NaN))));
    for (int bits = 0; bits < 0x10000; bits++) { // every finite half survives the round trip
      short h = (short) bits;
      float f = Half.toFloat(h);
      if (!Float.isNaN(f)) {
        assertEquals(h, Half.fromFloat(f), "bits " + Integer.toHexString(bits));
      }
    }
  }

  @Test
  void quantizesLikeNumpy() {
    // the same cases as tests/test_io_contract.py: 0.5 -> 0 (even), 1.5 -> 2, saturation at both ends
    TensorSpec q = spec("int8", "nchw", 0.5, -3, 1, 6);
    float[] x = {0.25f, 0.75f, -0.25f, 1000f, -1000f, 1.0f};
    int[] want = {-3, -1, -3, 127, -128, -1};
    for (int i = 0; i < x.length; i++) {
      assertEquals(want[i], TensorCodec.quantize(x[i], q), "x=" + x[i]);
    }
    TensorSpec u = spec("uint8", "nhwc", 1.0 / 255, 0, 1, 3);
    assertEquals(127, TensorCodec.quantize(0.5f, u)); // 0.5 / f32(1/255) = 127.49997
    assertEquals(255, TensorCodec.quantize(2f, u));
  }

  @Test
  void writesPixelsInTheModelsLayout() {
    int[] argb = {0xFF000000 | (255 << 16), 0xFF000000 | (255 << 8)}; // red, green
    float[] mean = {0f, 0f, 0f};
    float[] std = {1f, 1f, 1f};
    TensorSpec nchw = spec("float32", "nchw", null, null, 1, 3, 1, 2);
    ByteBuffer b = TensorCodec.allocate(nchw);
    TensorCodec.encodePixels(argb, mean, std, nchw, b);
    assertArrayEquals(new float[] {1, 0, 0, 1, 0, 0}, TensorCodec.decode(b, spec("float32", null, null, null, 1, 6)), 0f);
    TensorSpec nhwc = spec("float32", "nhwc", null, null, 1, 1, 2, 3);
    b = TensorCodec.allocate(nhwc);
    TensorCodec.encodePixels(argb, mean, std, nhwc, b);
    assertArrayEquals(new float[] {1, 0, 0, 0, 1, 0}, TensorCodec.decode(b, spec("float32", null, null, null, 1, 6)), 0f);
    assertEquals(ByteOrder.nativeOrder(), b.order());
    assertTrue(b.isDirect());
    assertEquals(0, b.position()); // written with absolute puts: ready to hand to a runtime
  }

  @Test
  void decodesIntegerAndHalfOutputs() {
    ByteBuffer raw = ByteBuffer.allocate(2).order(ByteOrder.nativeOrder());
    raw.put(0, (byte) -3).put(1, (byte) 127);
    assertArrayEquals(new float[] {0f, 65f}, TensorCodec.decode(raw, spec("int8", null, 0.5, -3, 1, 2)), 0f);
    raw.put(0, (byte) 0xFF).put(1, (byte) 3);
    assertArrayEquals(new float[] {252f, 0f}, TensorCodec.decode(raw, spec("uint8", null, 1.0, 3, 1, 2)), 0f);
    ByteBuffer h = ByteBuffer.allocate(4).order(ByteOrder.nativeOrder());
    h.putShort(0, (short) 0x3C00).putShort(2, (short) 0xC000);
    assertArrayEquals(new float[] {1f, -2f}, TensorCodec.decode(h, spec("float16", null, null, null, 1, 2)), 0f);
  }

  @Test
  void refusesInputsThePhotoCannotFill() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> TensorCodec.checkFeedable(spec("uint8", "image", 1.0, 0, 1, 3, 32, 32), 32));
    assertTrue(e.getMessage().contains("Core ML image input"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> TensorCodec.checkFeedable(spec("float32", "nhwc", null, null, 1, 3, 32, 32), 32));
    assertTrue(e.getMessage().contains("not one 32x32 RGB image in nhwc"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> spec("int8", "nchw", null, null, 1, 3));
    assertThrows(IllegalArgumentException.class, () -> spec("int4", "nchw", null, null, 1, 3));
  }

  @Test
  void executorchSizesAreLogicalNchwInEitherLayout() {
    assertArrayEquals(new long[] {1, 3, 32, 48}, spec("float32", "nhwc", null, null, 1, 32, 48, 3).nchwSizes());
    assertArrayEquals(new long[] {1, 3, 32, 48}, spec("float16", "nchw", null, null, 1, 3, 32, 48).nchwSizes());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> spec("uint8", "image", 1.0, 0, 1, 32, 32, 3).nchwSizes());
    assertTrue(e.getMessage().contains("input layout 'image' has no NCHW sizes"), e.getMessage());
  }

  @Test
  void aPhotoFrameRewritesTheWholeInputEachTime() {
    ModelManifest mf = ModelManifest.parse(ModelManifestTest.MANIFEST);
    int[] argb = new int[40 * 30];
    for (int i = 0; i < argb.length; i++) {
      argb[i] = 0xFF000000 | ((i * 7919) & 0xFFFFFF); // varied pixels, so a stale byte would show
    }
    BenchmarkLoop.Frame frame = TensorCodec.photoFrame(mf, argb, 40, 30);
    ByteBuffer once = TensorCodec.encodePhoto(mf, argb, 40, 30);
    ByteBuffer dirty = TensorCodec.allocate(mf.inputSpec);
    for (int i = 0; i < dirty.capacity(); i++) {
      dirty.put(i, (byte) 0x5A);
    }
    frame.encode(dirty);
    assertEquals(once, dirty); // every byte written, in place, the same as the one-off encoding
    assertTrue(frame.steps().startsWith("resize 40x30 to "), frame.steps());
    assertTrue(frame.steps().endsWith("write " + mf.inputSpec.dtype + " " + mf.inputSpec.layout), frame.steps());
  }
}
