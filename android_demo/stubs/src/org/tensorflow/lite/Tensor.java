/*
 * COMPILE-ONLY STUB. Mirrors the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/Tensor.java (the AAR's interface; TensorImpl.java
 * implements it). Only the members the app calls are declared. Not packaged.
 */
package org.tensorflow.lite;

public interface Tensor {
  class QuantizationParams {
    public QuantizationParams(final float scale, final int zeroPoint) {
      throw new UnsupportedOperationException("stub");
    }

    public float getScale() {
      throw new UnsupportedOperationException("stub");
    }

    public int getZeroPoint() {
      throw new UnsupportedOperationException("stub");
    }
  }

  DataType dataType();

  int numBytes();

  int numElements();

  int[] shape();

  String name();

  QuantizationParams quantizationParams();
}
