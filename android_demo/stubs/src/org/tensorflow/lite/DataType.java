/*
 * COMPILE-ONLY STUB. Mirrors google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/DataType.java: the tensor types LiteRT's Java API
 * reports (it has no FLOAT16: half-precision TFLite models keep float32 I/O). Not packaged.
 */
package org.tensorflow.lite;

public enum DataType {
  FLOAT32,
  INT32,
  UINT8,
  INT64,
  STRING,
  BOOL,
  INT16,
  INT8;

  public int byteSize() {
    throw new UnsupportedOperationException("stub");
  }
}
