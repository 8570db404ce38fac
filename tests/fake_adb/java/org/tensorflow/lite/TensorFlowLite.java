/*
 * FAKE for the JVM fake phone (tests/fake_adb): google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/TensorFlowLite.java. runtimeVersion() reports the
 * host LiteRT the bridge runs (the fake adb passes it in), as the real one reports the native runtime.
 */
package org.tensorflow.lite;

public final class TensorFlowLite {
  private TensorFlowLite() {}

  public static String runtimeVersion() {
    String v = System.getProperty("fakephone.litert.version");
    if (v == null) {
      throw new UnsatisfiedLinkError("no LiteRT native runtime (fakephone.litert.version unset)");
    }
    return v;
  }
}
