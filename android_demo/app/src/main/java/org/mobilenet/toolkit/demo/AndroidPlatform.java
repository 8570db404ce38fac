package org.mobilenet.toolkit.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.util.Log;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import org.mobilenet.toolkit.bench.Backend;
import org.mobilenet.toolkit.bench.BenchmarkLoop;
import org.mobilenet.toolkit.bench.FileIo;
import org.mobilenet.toolkit.bench.Platform;

/** What the headless benchmark needs from Android: Bitmap decoding, device facts, files, runtimes. */
final class AndroidPlatform implements Platform {
  static final String TAG = "MobilenetBench";
  private final Context ctx;

  AndroidPlatform(Context ctx) {
    this.ctx = ctx.getApplicationContext();
  }

  @Override
  public String pushDir() {
    return Models.PUSH_DIR;
  }

  @Override
  public String filesDir() {
    return ctx.getFilesDir().getAbsolutePath();
  }

  @Override
  public File resultsDir() {
    File ext = ctx.getExternalFilesDir(null); // readable by adb without root
    return new File(ext != null ? ext : ctx.getFilesDir(), "results");
  }

  @Override
  public File file(String devicePath) {
    return new File(devicePath);
  }

  /** ARGB_8888 pixels of a photo file, or of the first bundled photo (assets/images). */
  @Override
  public Photo decodePhoto(String devicePath) throws IOException {
    BitmapFactory.Options o = new BitmapFactory.Options();
    o.inPreferredConfig = Bitmap.Config.ARGB_8888;
    String name;
    InputStream in;
    if (devicePath != null) {
      name = new File(devicePath).getName();
      in = new FileInputStream(devicePath);
    } else {
      String[] names = ctx.getAssets().list("images");
      if (names == null || names.length == 0) {
        throw new IOException("no bundled photo in assets/images and no --es image_path");
      }
      name = names[0];
      in = ctx.getAssets().open("images/" + name);
    }
    Bitmap bmp;
    try {
      bmp = BitmapFactory.decodeStream(in, null, o);
    } finally {
      in.close();
    }
    if (bmp == null) {
      throw new IOException("cannot decode " + name);
    }
    int w = bmp.getWidth();
    int h = bmp.getHeight();
    int[] px = new int[w * h];
    bmp.getPixels(px, 0, w, 0, 0, w, h);
    bmp.recycle();
    return new Photo(px, w, h, name);
  }

  @Override
  public Map<String, Object> deviceInfo() {
    return DeviceInfo.describe();
  }

  @Override
  public Double batteryTemperatureC() {
    return DeviceInfo.batteryTemperature(ctx);
  }

  @Override
  public String thermalStatus() {
    return DeviceInfo.thermalStatus(ctx);
  }

  /** VmHWM from /proc/self/status: this process's peak resident memory, in MB. */
  @Override
  public Double peakMemoryMb() {
    try {
      for (String line : FileIo.readText(new File("/proc/self/status")).split("\n")) {
        if (line.startsWith("VmHWM:")) {
          return Double.valueOf(Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0);
        }
      }
    } catch (IOException | NumberFormatException ignored) {
      // not fatal: the record allows a null peak
    }
    return null;
  }

  @Override
  public Backend newBackend(String runtime, String delegate) {
    return Backends.create(runtime, delegate);
  }

  @Override
  public BenchmarkLoop.Clock clock() {
    return BenchmarkLoop.SYSTEM;
  }

  @Override
  public void log(boolean error, String message) {
    if (error) {
      Log.e(TAG, message);
    } else {
      Log.i(TAG, message);
    }
  }
}
