/*
 * FAKE for the JVM fake phone (tests/fake_adb): the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/Interpreter.java as declared in android_demo/stubs,
 * with LiteRT's own checks (TensorImpl.java: a Buffer input must have exactly the tensor's byte count,
 * an output buffer at least that many; ByteBuffers carry no type) and its messages. The model runs in
 * the host runtime through RuntimeBridge. Stricter than LiteRT where the app must not rely on more:
 * only direct, native-order ByteBuffers are accepted, and delegates are refused.
 */
package org.tensorflow.lite;

import java.io.File;
import java.io.IOException;
import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import org.mobilenet.toolkit.fakephone.RuntimeBridge;

public final class Interpreter implements AutoCloseable {
  public static class Options {
    int threads = -1;
    boolean delegates;

    public Options() {}

    public Options setNumThreads(int numThreads) {
      this.threads = numThreads;
      return this;
    }

    public Options setUseXNNPACK(boolean useXNNPACK) {
      return this;
    }

    public Options setUseNNAPI(boolean useNNAPI) {
      delegates |= useNNAPI;
      return this;
    }

    public Options addDelegate(Delegate delegate) {
      delegates = true;
      return this;
    }
  }

  private RuntimeBridge bridge;
  private final FakeTensor input;
  private final FakeTensor output;

  @SuppressWarnings("unchecked")
  public Interpreter(File modelFile, Options options) {
    if (options.delegates) {
      throw new IllegalArgumentException("fake LiteRT: GPU/NNAPI delegates cannot run on the host");
    }
    try {
      bridge = RuntimeBridge.open("tflite", modelFile, Math.max(0, options.threads));
    } catch (RuntimeBridge.Refused e) {
      throw new IllegalArgumentException(e.getMessage());
    } catch (IOException e) {
      throw new IllegalStateException("fake LiteRT: " + e.getMessage(), e);
    }
    input = new FakeTensor((Map<String, Object>) bridge.loaded.get("input"));
    output = new FakeTensor((Map<String, Object>) bridge.loaded.get("output"));
  }

  public void run(Object input, Object output) {
    Map<Integer, Object> outputs = new java.util.HashMap<Integer, Object>();
    outputs.put(Integer.valueOf(0), output);
    runForMultipleInputsOutputs(new Object[] {input}, outputs);
  }

  public void runForMultipleInputsOutputs(Object[] inputs, Map<Integer, Object> outputs) {
    checkOpen();
    if (inputs == null || inputs.length != 1) {
      throw new IllegalArgumentException("Invalid input Tensor index: " + (inputs == null ? 0 : inputs.length - 1));
    }
    if (outputs == null || outputs.size() != 1 || !outputs.containsKey(Integer.valueOf(0))) {
      throw new IllegalArgumentException("Input error: Outputs should not be null or empty, and index 0 only");
    }
    ByteBuffer src = byteBuffer(inputs[0], "input");
    ByteBuffer dst = byteBuffer(outputs.get(Integer.valueOf(0)), "output");
    if (src.capacity() != input.numBytes()) {
      throw new IllegalArgumentException(String.format(
          "Cannot copy to a TensorFlowLite tensor (%s) with %d bytes from a Java Buffer with %d bytes.",
          input.name(), input.numBytes(), src.capacity()));
    }
    if (dst.capacity() < output.numBytes()) {
      throw new IllegalArgumentException(String.format(
          "Cannot copy from a TensorFlowLite tensor (%s) with %d bytes to a Java Buffer with %d bytes.",
          output.name(), output.numBytes(), dst.capacity()));
    }
    long[] shape = new long[input.shape().length];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = input.shape()[i];
    }
    RuntimeBridge.Output out;
    try {
      out = bridge.run(input.hostDtype, shape, src); // the bytes, read as the tensor's own type
    } catch (RuntimeBridge.Refused e) {
      throw new IllegalArgumentException("Internal error: Failed to run on the given Interpreter: " + e.getMessage());
    } catch (IOException e) {
      throw new IllegalStateException("fake LiteRT: " + e.getMessage(), e);
    }
    if (dst.remaining() < out.bytes.length) {
      throw new BufferOverflowException(); // ByteBuffer.put from the position, as TensorImpl.copyTo does
    }
    dst.put(out.bytes);
  }

  private static ByteBuffer byteBuffer(Object o, String side) {
    if (!(o instanceof ByteBuffer)) {
      throw new IllegalArgumentException("fake LiteRT bridges ByteBuffer " + side + "s only, got "
          + (o == null ? "null" : o.getClass().getName()));
    }
    ByteBuffer b = (ByteBuffer) o;
    if (!b.isDirect() || b.order() != ByteOrder.nativeOrder()) {
      throw new IllegalArgumentException("fake LiteRT: the " + side
          + " ByteBuffer must be direct and native-order (LiteRT copies others from their position)");
    }
    return b;
  }

  public Tensor getInputTensor(int inputIndex) {
    checkOpen();
    if (inputIndex != 0) {
      throw new IllegalArgumentException("Invalid input Tensor index: " + inputIndex);
    }
    return input;
  }

  public Tensor getOutputTensor(int outputIndex) {
    checkOpen();
    if (outputIndex != 0) {
      throw new IllegalArgumentException("Invalid output Tensor index: " + outputIndex);
    }
    return output;
  }

  private void checkOpen() {
    if (bridge == null) {
      throw new IllegalStateException("Internal error: The Interpreter has already been closed.");
    }
  }

  @Override
  public void close() {
    if (bridge != null) {
      bridge.close();
      bridge = null;
    }
  }
}
