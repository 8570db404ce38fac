/*
 * FAKE for the JVM fake phone (tests/fake_adb): the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/Tensor.java as declared in android_demo/stubs.
 */
package org.tensorflow.lite;

public interface Tensor {
  class QuantizationParams {
    private final float scale;
    private final int zeroPoint;

    public QuantizationParams(final float scale, final int zeroPoint) {
      this.scale = scale;
      this.zeroPoint = zeroPoint;
    }

    public float getScale() {
      return scale;
    }

    public int getZeroPoint() {
      return zeroPoint;
    }
  }

  DataType dataType();

  int numBytes();

  int numElements();

  int[] shape();

  String name();

  QuantizationParams quantizationParams();
}
