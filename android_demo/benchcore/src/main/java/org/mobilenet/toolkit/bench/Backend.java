package org.mobilenet.toolkit.bench;

import java.nio.ByteBuffer;

/**
 * One on-device runtime (ExecuTorch, LiteRT) behind the benchmark loop. Implementations are thin
 * wrappers in the app module; the core hands them the exact input bytes and reads back raw output
 * bytes, so what is encoded and decoded is the core's business and is tested on the JVM.
 *
 * <p>Call order: {@link #load}, {@link #bind} once, then {@link #run} any number of times (the timed
 * region: no allocation or input copy on our side), {@link #output} after a run, {@link #close}.
 */
public interface Backend {
  /** Runtime name as in the result schema: "executorch" or "tflite". */
  String name();

  /** Runtime version: from the runtime's own API where it has one, else the version the app declares. */
  String version();

  /** "runtime" when {@link #version} was read from the runtime, "declared" when it is the build pin. */
  String versionSource();

  /** Delegate actually in use: "xnnpack", "gpu", "nnapi", "cpu". */
  String delegate();

  /** Load the model file; throws with the runtime's own message when it rejects the model. */
  void load(String modelPath, int threads) throws Exception;

  /**
   * Take the input tensor's bytes (direct, native order, exactly {@code in.nbytes()}; built once by
   * the core and reused for every run) and prepare the output. Where the runtime reports its
   * tensors' types and sizes, a mismatch with the manifest fails here, before anything runs.
   */
  void bind(ByteBuffer input, TensorSpec in, TensorSpec out) throws Exception;

  /** One inference on the bound input. */
  void run() throws Exception;

  /** The last run's raw output: native order, bytes 0 .. {@code out.nbytes()}; read outside the timed loop. */
  ByteBuffer output() throws Exception;

  void close();
}
