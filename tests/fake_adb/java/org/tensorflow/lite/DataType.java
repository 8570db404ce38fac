/*
 * FAKE for the JVM fake phone (tests/fake_adb): google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/DataType.java, same constants (no FLOAT16).
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
    switch (this) {
      case FLOAT32:
      case INT32:
        return 4;
      case INT16:
        return 2;
      case INT8:
      case UINT8:
        return 1;
      case INT64:
        return 8;
      default:
        return -1;
    }
  }

  /** The I/O contract's dtype name (toolkit/runtimes/io.py) for a host-runtime dtype; null when LiteRT's Java API has none. */
  static DataType fromHost(String dtype) {
    switch (dtype) {
      case "float32":
        return FLOAT32;
      case "int8":
        return INT8;
      case "uint8":
        return UINT8;
      case "int32":
        return INT32;
      default:
        return null; // float16: LiteRT's Java API has no FLOAT16 type
    }
  }
}
