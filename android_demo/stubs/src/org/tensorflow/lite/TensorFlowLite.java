/*
 * COMPILE-ONLY STUB. Mirrors the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/TensorFlowLite.java. Not packaged.
 */
package org.tensorflow.lite;

public final class TensorFlowLite {
  private TensorFlowLite() {}

  public static String runtimeVersion() {
    throw new UnsupportedOperationException("stub");
  }
}
