/*
 * COMPILE-ONLY STUB. Mirrors the public API of pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/EValue.kt
 * (executorch-android 1.5.x); the real class ships in the AAR. Only what the app calls is
 * declared. Not packaged into the APK.
 */
package org.pytorch.executorch;

public class EValue {
  private EValue() {}

  public static EValue from(Tensor tensor) {
    throw new UnsupportedOperationException("stub");
  }

  public boolean isTensor() {
    throw new UnsupportedOperationException("stub");
  }

  public Tensor toTensor() {
    throw new UnsupportedOperationException("stub");
  }
}
