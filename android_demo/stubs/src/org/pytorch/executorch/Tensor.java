/*
 * COMPILE-ONLY STUB. Mirrors the public API of pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/Tensor.kt
 * (executorch-android 1.5.x; identical in release/1.4). fromBlob takes its dtype from the buffer
 * type: FloatBuffer is FLOAT, ShortBuffer is HALF, ByteBuffer is INT8, fromBlobUnsigned is UINT8;
 * buffers must be direct and native-order, and are not copied. Kotlin properties appear as their
 * Java getters (dataAsFloatArray is getDataAsFloatArray()). Only what the app calls is declared.
 */
package org.pytorch.executorch;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;

public abstract class Tensor {
  Tensor() {}

  public static Tensor fromBlob(FloatBuffer data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  public static Tensor fromBlob(ShortBuffer data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  public static Tensor fromBlob(ByteBuffer data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  public static Tensor fromBlobUnsigned(ByteBuffer data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  public long numel() {
    throw new UnsupportedOperationException("stub");
  }

  public long[] shape() {
    throw new UnsupportedOperationException("stub");
  }

  public abstract DType dtype();

  public float[] getDataAsFloatArray() {
    throw new UnsupportedOperationException("stub");
  }

  public short[] getDataAsShortArray() {
    throw new UnsupportedOperationException("stub");
  }

  public byte[] getDataAsByteArray() {
    throw new UnsupportedOperationException("stub");
  }

  public byte[] getDataAsUnsignedByteArray() {
    throw new UnsupportedOperationException("stub");
  }
}
