/*
 * FAKE for the JVM fake phone (tests/fake_adb): pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/ExecutorchRuntimeException.kt,
 * with its message format "[ExecuTorch Error 0x12] Invalid argument: details".
 */
package org.pytorch.executorch;

public class ExecutorchRuntimeException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int errorCode;

  public ExecutorchRuntimeException(int errorCode, String details) {
    super(format(errorCode, details));
    this.errorCode = errorCode;
  }

  public int getErrorCode() {
    return errorCode;
  }

  private static String format(int code, String details) {
    String base;
    switch (code) {
      case 0x01:
        base = "Internal error";
        break;
      case 0x10:
        base = "Operation not supported";
        break;
      case 0x12:
        base = "Invalid argument";
        break;
      case 0x20:
        base = "Resource not found";
        break;
      case 0x23:
        base = "Invalid program";
        break;
      default:
        base = "Unknown error code 0x" + Integer.toHexString(code);
    }
    return "[ExecuTorch Error 0x" + Integer.toHexString(code) + "] " + base + ": "
        + (details == null ? "No details provided" : details);
  }
}
