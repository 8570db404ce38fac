package org.mobilenet.toolkit.bench;

/**
 * One on-device runtime (ExecuTorch, LiteRT) behind the benchmark loop. Implementations are thin
 * wrappers in the app module; the loop and its tests see only this interface.
 */
public interface Backend {
  /** Runtime name as in the result schema: "executorch" or "tflite". */
  String name();

  /** Runtime version (the AAR version the app was built with). */
  String version();

  /** Delegate actually in use: "xnnpack", "gpu", "nnapi", ... or null. */
  String delegate();

  /** Load the model file; throws with the runtime's own message when it rejects the model. */
  void load(String modelPath, int threads) throws Exception;

  /** One inference on a float32 input of the given shape; returns the logits. */
  float[] run(float[] input, long[] shape) throws Exception;

  void close();
}
