/*
 * COMPILE-ONLY STUB. Mirrors the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/TensorFlowLite.java: runtimeVersion() reports the
 * version of the native runtime actually loaded. Not packaged.
 */
package org.tensorflow.lite;

public final class TensorFlowLite {
  private TensorFlowLite() {}

  public static String runtimeVersion() {
    throw new UnsupportedOperationException("stub");
  }
}
