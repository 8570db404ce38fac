/*
 * FAKE for the JVM fake phone (tests/fake_adb): the public API of pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/Module.kt as declared in
 * android_demo/stubs. The program runs in the host ExecuTorch runtime through RuntimeBridge, which
 * refuses a tensor of another dtype or shape with the runtime's own log line (method.cpp set_input:
 * "Input 0 has unexpected scalar type: expected Half but was Float."), and this class wraps it the way
 * the JNI layer does ("Execution failed for method: forward").
 */
package org.pytorch.executorch;

import java.io.File;
import java.io.IOException;
import org.mobilenet.toolkit.fakephone.RuntimeBridge;

public class Module {
  public static final int LOAD_MODE_FILE = 0;
  public static final int LOAD_MODE_MMAP = 1;
  public static final int LOAD_MODE_MMAP_USE_MLOCK = 2;
  public static final int LOAD_MODE_MMAP_USE_MLOCK_IGNORE_ERRORS = 3;

  private RuntimeBridge bridge;
  private boolean destroyed;

  private Module() {}

  public static Module load(String modelPath, int loadMode, int numThreads) {
    File f = modelPath == null ? null : new File(modelPath);
    if (f == null || !f.isFile() || !f.canRead()) { // ExecuTorchRuntime.validateFilePath
      throw new IllegalArgumentException("Cannot load model path: path does not exist: " + modelPath);
    }
    Module m = new Module();
    try {
      m.bridge = RuntimeBridge.open("executorch", f, numThreads);
    } catch (RuntimeBridge.Refused e) {
      throw new ExecutorchRuntimeException(0x23, "Failed to load program | nativeLog=" + e.getMessage());
    } catch (IOException e) {
      throw new IllegalStateException("fake ExecuTorch: " + e.getMessage(), e);
    }
    return m;
  }

  public EValue[] forward(EValue... inputs) {
    if (destroyed) {
      throw new IllegalStateException("Module has been destroyed");
    }
    if (inputs.length != 1 || !inputs[0].isTensor()) {
      throw new ExecutorchRuntimeException(0x12, "Execution failed for method: forward | nativeLog=expected 1 tensor input, got " + inputs.length);
    }
    Tensor t = inputs[0].toTensor();
    if (t.dtype().hostName() == null) {
      throw new ExecutorchRuntimeException(0x12, "Unknown Tensor jdtype: [" + t.dtype().jniCode + "]");
    }
    RuntimeBridge.Output out;
    try {
      out = bridge.run(t.dtype().hostName(), t.shape(), java.nio.ByteBuffer.wrap(t.rawBytes()));
    } catch (RuntimeBridge.Refused e) {
      int code = "shape".equals(e.kind) ? 0x10 : 0x12;
      throw new ExecutorchRuntimeException(code, "Execution failed for method: forward | nativeLog=" + e.getMessage());
    } catch (IOException e) {
      throw new IllegalStateException("fake ExecuTorch: " + e.getMessage(), e);
    }
    return new EValue[] {EValue.from(Tensor.fromRuntime(out.bytes, out.shape, DType.fromHost(out.dtype)))};
  }

  public void loadMethod(String methodName) {
    if (destroyed) {
      throw new IllegalStateException("Module has been destroyed");
    }
    if (!"forward".equals(methodName)) {
      throw new ExecutorchRuntimeException(0x20, "Failed to load method: " + methodName);
    }
  }

  public void destroy() {
    if (bridge != null) {
      bridge.close();
      bridge = null;
    }
    destroyed = true;
  }
}
