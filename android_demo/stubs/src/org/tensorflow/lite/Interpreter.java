/*
 * COMPILE-ONLY STUB. Mirrors the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/Interpreter.java (its run, getInputTensor,
 * getOutputTensor, runForMultipleInputsOutputs and close come from InterpreterImpl.java and
 * InterpreterApi.java beside it), as shipped in the com.google.ai.edge.litert:litert AAR.
 * Only the members the app calls are declared. Not packaged into the APK.
 */
package org.tensorflow.lite;

import java.io.File;
import java.util.Map;

public final class Interpreter implements AutoCloseable {
  public static class Options {
    public Options() {}

    public Options setNumThreads(int numThreads) {
      throw new UnsupportedOperationException("stub");
    }

    public Options setUseXNNPACK(boolean useXNNPACK) {
      throw new UnsupportedOperationException("stub");
    }

    public Options setUseNNAPI(boolean useNNAPI) {
      throw new UnsupportedOperationException("stub");
    }

    public Options addDelegate(Delegate delegate) {
      throw new UnsupportedOperationException("stub");
    }
  }

  public Interpreter(File modelFile, Options options) {
    throw new UnsupportedOperationException("stub");
  }

  public void run(Object input, Object output) {
    throw new UnsupportedOperationException("stub");
  }

  public void runForMultipleInputsOutputs(Object[] inputs, Map<Integer, Object> outputs) {
    throw new UnsupportedOperationException("stub");
  }

  public Tensor getInputTensor(int inputIndex) {
    throw new UnsupportedOperationException("stub");
  }

  public Tensor getOutputTensor(int outputIndex) {
    throw new UnsupportedOperationException("stub");
  }

  @Override
  public void close() {
    throw new UnsupportedOperationException("stub");
  }
}
