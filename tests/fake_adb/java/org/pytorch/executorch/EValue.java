/*
 * FAKE for the JVM fake phone (tests/fake_adb): the public API of pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/EValue.kt as declared in
 * android_demo/stubs (tensor values only: the app passes nothing else).
 */
package org.pytorch.executorch;

public class EValue {
  private Tensor tensor;

  private EValue() {}

  public static EValue from(Tensor tensor) {
    EValue v = new EValue();
    v.tensor = tensor;
    return v;
  }

  public boolean isTensor() {
    return tensor != null;
  }

  public Tensor toTensor() {
    if (tensor == null) {
      throw new IllegalStateException("Expected EValue type Tensor, actual type None");
    }
    return tensor;
  }
}
