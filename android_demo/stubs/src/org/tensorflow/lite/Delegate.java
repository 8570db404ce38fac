/*
 * COMPILE-ONLY STUB. Mirrors the public API of google-ai-edge/LiteRT
 * tflite/java/src/main/java/org/tensorflow/lite/Delegate.java. GPU and NNAPI delegates are
 * created by reflection in LiteRtBackend, so only this interface is needed. Not packaged.
 */
package org.tensorflow.lite;

public interface Delegate extends java.io.Closeable {
  long getNativeHandle();
}
