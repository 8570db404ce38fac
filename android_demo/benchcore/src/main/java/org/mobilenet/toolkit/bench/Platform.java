package org.mobilenet.toolkit.bench;

import java.io.File;
import java.io.IOException;
import java.util.Map;

/**
 * What only the host of the core can supply: Android in the app ({@code AndroidPlatform}), the JVM
 * in the tests' fake phone. Everything else between the start intent and the result JSON is in
 * {@link HeadlessBenchmark}, the same code on both.
 */
public interface Platform {
  /** Device folder the toolkit pushes artifacts to; model_path and image_path may point inside it. */
  String pushDir();

  /** Device path of the app's own files folder (bundled models are copied there). */
  String filesDir();

  /** Where result and error records are written (the toolkit polls this folder). */
  File resultsDir();

  /** The file behind a device path: the path itself on a phone, under the fake phone's folder on the JVM. */
  File file(String devicePath);

  /** ARGB pixels of the photo at {@code devicePath}, or of the app's bundled photo when it is null. */
  Photo decodePhoto(String devicePath) throws IOException;

  /** The result record's device block (name, os, cpu, cores, ...). */
  Map<String, Object> deviceInfo();

  /** Battery temperature in °C, or null. */
  Double batteryTemperatureC();

  /** The OS thermal status ("none", "light", ...), or null. */
  String thermalStatus();

  /** This process's peak resident memory in MB, or null. */
  Double peakMemoryMb();

  /** A new, unloaded backend for "executorch" or "tflite" with the requested delegate (null: default). */
  Backend newBackend(String runtime, String delegate);

  BenchmarkLoop.Clock clock();

  /** One log line (logcat on a phone). */
  void log(boolean error, String message);

  /** A decoded photo: ARGB pixels (as Bitmap.getPixels returns them) and the file name for the notes. */
  final class Photo {
    public final int[] argb;
    public final int width;
    public final int height;
    public final String name;

    public Photo(int[] argb, int width, int height, String name) {
      if (argb.length != width * height) {
        throw new IllegalArgumentException("photo has " + argb.length + " pixels, expected " + width + "x" + height);
      }
      this.argb = argb;
      this.width = width;
      this.height = height;
      this.name = name;
    }
  }
}
