/*
 * COMPILE-ONLY STUB. Mirrors the public API of pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/Module.kt
 * (executorch-android 1.5.x; load has @JvmOverloads). The real class comes from the
 * org.pytorch:executorch-android AAR; scripts/build_android_apk.sh compiles against this file and
 * leaves it out of the dex. Only what the app calls is declared. Re-check the signatures whenever
 * the AAR pin in android_demo/app/build.gradle changes.
 */
package org.pytorch.executorch;

public class Module {
  public static final int LOAD_MODE_FILE = 0;
  public static final int LOAD_MODE_MMAP = 1;
  public static final int LOAD_MODE_MMAP_USE_MLOCK = 2;
  public static final int LOAD_MODE_MMAP_USE_MLOCK_IGNORE_ERRORS = 3;

  private Module() {}

  public static Module load(String modelPath, int loadMode, int numThreads) {
    throw new UnsupportedOperationException("stub");
  }

  public EValue[] forward(EValue... inputs) {
    throw new UnsupportedOperationException("stub");
  }

  public void loadMethod(String methodName) {
    throw new UnsupportedOperationException("stub");
  }

  public void destroy() {
    throw new UnsupportedOperationException("stub");
  }
}
