package org.mobilenet.toolkit.demo;

import org.mobilenet.toolkit.bench.Backend;

/**
 * The app's runtimes by name ("executorch", "tflite", as the core picks them from the manifest).
 * Plain Java, no Android imports: the tests' fake phone builds the same backends on the JVM,
 * against fakes of the runtime classes that hand each call to the host runtime.
 */
public final class Backends {
  private Backends() {}

  public static Backend create(String runtime, String delegate) {
    if ("executorch".equals(runtime)) {
      if (delegate != null && !delegate.equals("xnnpack")) {
        throw new IllegalArgumentException("a .pte runs the delegate chosen at export (xnnpack); delegate "
            + delegate + " applies to .tflite artifacts only");
      }
      return new ExecuTorchBackend();
    }
    if ("tflite".equals(runtime)) {
      return new LiteRtBackend(delegate);
    }
    throw new IllegalArgumentException("the app has no " + runtime + " runtime; it runs executorch and tflite");
  }
}
