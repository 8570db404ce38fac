/*
 * COMPILE-ONLY STUB. Mirrors the public API of pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/Tensor.kt
 * (executorch-android 1.5.x); the real class ships in the AAR. Not packaged into the APK.
 */
package org.pytorch.executorch;

public abstract class Tensor {
  public static Tensor fromBlob(float[] data, long[] shape) {
    throw new UnsupportedOperationException("stub");
  }

  public long[] shape() {
    throw new UnsupportedOperationException("stub");
  }

  public float[] getDataAsFloatArray() {
    throw new UnsupportedOperationException("stub");
  }
}
