/*
 * COMPILE-ONLY STUB. Mirrors the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/Tensor.java (the AAR's interface). Not packaged.
 */
package org.tensorflow.lite;

public interface Tensor {
  int[] shape();

  int numElements();
}
