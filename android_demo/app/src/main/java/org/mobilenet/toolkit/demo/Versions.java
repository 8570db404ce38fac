package org.mobilenet.toolkit.demo;

/**
 * Runtime versions the app is built against, reported in every result. Keep them equal to the AAR
 * pins in android_demo/app/build.gradle (tests/test_android_apk.py checks that they agree, and that
 * ExecuTorch's matches the Python executorch the .pte files were exported with).
 */
final class Versions {
  static final String EXECUTORCH = "1.5.1";
  static final String LITERT = "1.4.0";

  private Versions() {}
}
