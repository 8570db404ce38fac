/*
 * FAKE for the JVM fake phone (tests/fake_adb): the same interface as android_demo/stubs (which
 * mirrors google-ai-edge/LiteRT tflite/java/src/main/java/org/tensorflow/lite/Delegate.java).
 */
package org.tensorflow.lite;

public interface Delegate extends java.io.Closeable {
  long getNativeHandle();
}
