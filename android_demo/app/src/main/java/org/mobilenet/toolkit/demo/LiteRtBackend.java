package org.mobilenet.toolkit.demo;

import java.io.Closeable;
import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.mobilenet.toolkit.bench.Backend;
import org.mobilenet.toolkit.bench.TensorSpec;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Delegate;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;
import org.tensorflow.lite.TensorFlowLite;

/**
 * LiteRT (.tflite) behind the benchmark loop's Backend. The input is the core's direct ByteBuffer
 * (LiteRT copies it by byte count alone, whatever the tensor's type, so the tensor's type, size,
 * shape and quantization are checked against the manifest first); the output is a ByteBuffer sized
 * from the output tensor. The run arrays are built once, so a timed run allocates nothing here.
 * XNNPACK is the default; "gpu" and "nnapi" load their delegate classes by reflection, so the app
 * still runs where the GPU artifacts are absent and the error names the missing ones.
 */
final class LiteRtBackend implements Backend {
  static final String GPU_ARTIFACTS =
      "com.google.ai.edge.litert:litert-gpu and com.google.ai.edge.litert:litert-gpu-api";
  private final String delegateName;
  private Interpreter interpreter;
  private Object delegate;
  private String version = Versions.LITERT;
  private String versionSource = "declared";
  private ByteBuffer input;
  private ByteBuffer output;
  private Object[] inputs;
  private final Map<Integer, Object> outputs = new HashMap<Integer, Object>();

  LiteRtBackend(String delegateName) {
    String d = delegateName == null || delegateName.isEmpty() ? "xnnpack" : delegateName;
    if (!d.equals("xnnpack") && !d.equals("gpu") && !d.equals("nnapi") && !d.equals("cpu")) {
      throw new IllegalArgumentException("unknown LiteRT delegate " + d + "; choose xnnpack, gpu, nnapi or cpu");
    }
    this.delegateName = d;
  }

  @Override
  public String name() {
    return "tflite";
  }

  @Override
  public String version() {
    return version;
  }

  @Override
  public String versionSource() {
    return versionSource;
  }

  @Override
  public String delegate() {
    return delegateName;
  }

  @Override
  public void load(String modelPath, int threads) throws Exception {
    Interpreter.Options options = new Interpreter.Options();
    if (threads > 0) {
      options.setNumThreads(threads);
    }
    options.setUseXNNPACK(delegateName.equals("xnnpack"));
    if (delegateName.equals("gpu")) {
      delegate = newDelegate("org.tensorflow.lite.gpu.GpuDelegate", GPU_ARTIFACTS);
    } else if (delegateName.equals("nnapi")) {
      delegate = newDelegate("org.tensorflow.lite.nnapi.NnApiDelegate", "com.google.ai.edge.litert:litert");
    }
    if (delegate != null) {
      options.addDelegate((Delegate) delegate);
    }
    interpreter = new Interpreter(new File(modelPath), options);
    try {
      version = TensorFlowLite.runtimeVersion(); // the native runtime actually loaded
      versionSource = "runtime";
    } catch (RuntimeException | LinkageError e) {
      version = Versions.LITERT; // the build pin, marked as such in the record
      versionSource = "declared";
    }
  }

  /** A delegate by class name; a missing class (or a class missing one it needs) names the artifacts to add. */
  private static Object newDelegate(String className, String artifacts) throws Exception {
    try {
      return Class.forName(className).getConstructor().newInstance();
    } catch (ClassNotFoundException | LinkageError e) {
      throw missing(className, artifacts, e);
    } catch (InvocationTargetException e) {
      if (e.getCause() instanceof LinkageError) { // e.g. GpuDelegate present, litert-gpu-api absent
        throw missing(className, artifacts, e.getCause());
      }
      throw e;
    }
  }

  private static IllegalStateException missing(String className, String artifacts, Throwable cause) {
    return new IllegalStateException(className + " cannot be created in this build (" + cause.getClass().getSimpleName()
        + ": " + cause.getMessage() + "); add " + artifacts + " to app/build.gradle, same version as litert");
  }

  @Override
  public void bind(ByteBuffer input, TensorSpec in, TensorSpec out) {
    check(interpreter.getInputTensor(0), in, "input");
    Tensor t = check(interpreter.getOutputTensor(0), out, "output");
    if (!input.isDirect() || input.order() != ByteOrder.nativeOrder() || input.capacity() != in.nbytes()) {
      throw new IllegalArgumentException("the input buffer must be direct, native-order and " + in.nbytes() + " bytes");
    }
    this.input = input;
    this.output = ByteBuffer.allocateDirect(t.numBytes()).order(ByteOrder.nativeOrder());
    this.inputs = new Object[] {input};
    outputs.put(Integer.valueOf(0), output);
  }

  /** The interpreter's tensor must be what the manifest says: type, shape, bytes and quantization. */
  private static Tensor check(Tensor t, TensorSpec spec, String side) {
    String dtype = dtypeName(t.dataType());
    long[] shape = new long[t.shape().length];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = t.shape()[i];
    }
    if (!dtype.equals(spec.dtype) || !Arrays.equals(shape, spec.shape) || t.numBytes() != spec.nbytes()) {
      throw new IllegalArgumentException("the model's " + side + " tensor " + t.name() + " is " + t.dataType() + " "
          + Arrays.toString(t.shape()) + " (" + t.numBytes() + " bytes), its manifest says " + spec + " ("
          + spec.nbytes() + " bytes): use the manifest exported with this file");
    }
    if (spec.quantized) {
      Tensor.QuantizationParams q = t.quantizationParams();
      if (q.getScale() != spec.scale || q.getZeroPoint() != spec.zeroPoint) {
        throw new IllegalArgumentException("the model's " + side + " quantization is (scale " + q.getScale()
            + ", zero point " + q.getZeroPoint() + "), its manifest says (" + spec.scale + ", " + spec.zeroPoint + ")");
      }
    }
    return t;
  }

  private static String dtypeName(DataType t) {
    switch (t) {
      case FLOAT32:
        return "float32";
      case INT8:
        return "int8";
      case UINT8:
        return "uint8";
      default:
        return t.name();
    }
  }

  @Override
  public void run() {
    input.rewind();
    output.rewind(); // LiteRT appends to the output buffer from its position
    interpreter.runForMultipleInputsOutputs(inputs, outputs);
  }

  @Override
  public ByteBuffer output() {
    ByteBuffer b = output.duplicate().order(ByteOrder.nativeOrder());
    b.rewind();
    return b;
  }

  @Override
  public void close() {
    if (interpreter != null) {
      interpreter.close();
      interpreter = null;
    }
    if (delegate instanceof Closeable) {
      try {
        ((Closeable) delegate).close();
      } catch (java.io.IOException ignored) {
        // closing a delegate releases native memory; nothing to report on failure
      }
    }
    delegate = null;
  }
}
