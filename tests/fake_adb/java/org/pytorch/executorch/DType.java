/*
 * FAKE for the JVM fake phone (tests/fake_adb): pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/DType.kt, same codes.
 */
package org.pytorch.executorch;

public enum DType {
  UINT8(0),
  INT8(1),
  INT16(2),
  INT32(3),
  INT64(4),
  HALF(5),
  FLOAT(6),
  DOUBLE(7),
  COMPLEX_HALF(8),
  COMPLEX_FLOAT(9),
  COMPLEX_DOUBLE(10),
  BOOL(11),
  QINT8(12),
  QUINT8(13),
  QINT32(14),
  BFLOAT16(15),
  QINT4X2(16),
  QINT2X4(17),
  BITS1X8(18),
  BITS2X4(19),
  BITS4X2(20),
  BITS8(21),
  BITS16(22);

  public final int jniCode;

  DType(int jniCode) {
    this.jniCode = jniCode;
  }

  /** The I/O contract's name (toolkit/runtimes/io.py), or null outside it. */
  String hostName() {
    switch (this) {
      case FLOAT:
        return "float32";
      case HALF:
        return "float16";
      case INT8:
        return "int8";
      case UINT8:
        return "uint8";
      default:
        return null;
    }
  }

  static DType fromHost(String name) {
    for (DType t : values()) {
      if (name.equals(t.hostName())) {
        return t;
      }
    }
    throw new IllegalArgumentException("no DType for " + name);
  }
}
