/*
 * COMPILE-ONLY STUB. Mirrors pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/ExecutorchRuntimeException.kt
 * (executorch-android 1.5.x): what Module.forward throws when the native runtime refuses a call,
 * e.g. "[ExecuTorch Error 0x12] Invalid argument: Execution failed for method: forward". Not packaged.
 */
package org.pytorch.executorch;

public class ExecutorchRuntimeException extends RuntimeException {
  public ExecutorchRuntimeException(int errorCode, String details) {
    throw new UnsupportedOperationException("stub");
  }

  public int getErrorCode() {
    throw new UnsupportedOperationException("stub");
  }
}
