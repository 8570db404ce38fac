package org.mobilenet.toolkit.demo;

import java.io.Closeable;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.mobilenet.toolkit.bench.Backend;
import org.tensorflow.lite.Delegate;
import org.tensorflow.lite.Interpreter;

/**
 * LiteRT (.tflite) behind the benchmark loop's Backend. XNNPACK is the default; "gpu" and "nnapi"
 * load their delegate classes by reflection, so the app still runs where the GPU AAR is absent and
 * the error names the missing piece instead of crashing at class load.
 */
final class LiteRtBackend implements Backend {
  private final String delegateName;
  private Interpreter interpreter;
  private Object delegate;
  private ByteBuffer inputBuffer;
  private float[][] output;

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
    return Versions.LITERT;
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
      delegate = newDelegate("org.tensorflow.lite.gpu.GpuDelegate", "com.google.ai.edge.litert:litert-gpu");
    } else if (delegateName.equals("nnapi")) {
      delegate = newDelegate("org.tensorflow.lite.nnapi.NnApiDelegate", "com.google.ai.edge.litert:litert");
    }
    if (delegate != null) {
      options.addDelegate((Delegate) delegate);
    }
    interpreter = new Interpreter(new File(modelPath), options);
    int[] outShape = interpreter.getOutputTensor(0).shape();
    output = new float[1][outShape[outShape.length - 1]];
  }

  private static Object newDelegate(String className, String artifact) throws Exception {
    try {
      return Class.forName(className).getConstructor().newInstance();
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(className + " is not in this build; add " + artifact + " to the app");
    }
  }

  @Override
  public float[] run(float[] input, long[] shape) {
    if (inputBuffer == null || inputBuffer.capacity() != input.length * 4) {
      inputBuffer = ByteBuffer.allocateDirect(input.length * 4).order(ByteOrder.nativeOrder());
    }
    inputBuffer.rewind();
    FloatBuffer fb = inputBuffer.asFloatBuffer();
    fb.put(input);
    inputBuffer.rewind();
    interpreter.run(inputBuffer, output);
    return output[0].clone();
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
