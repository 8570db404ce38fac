package org.mobilenet.toolkit.fakephone;

import java.awt.image.BufferedImage;
import java.io.File;
import java.io.FileWriter;
import java.io.IOException;
import java.io.Writer;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.imageio.ImageIO;
import org.mobilenet.toolkit.bench.Backend;
import org.mobilenet.toolkit.bench.BenchmarkLoop;
import org.mobilenet.toolkit.bench.FileIo;
import org.mobilenet.toolkit.bench.Platform;
import org.mobilenet.toolkit.demo.Backends;

/**
 * The fake phone's side of {@link Platform}: the phone's files live under {@code root} (the fake adb's
 * per-serial folder) at their device paths, photos decode with ImageIO instead of Bitmap, device facts
 * come from the fake phone's properties, and the runtimes are the app's own backends (Backends)
 * over the fake runtime classes that bridge to the host runtime.
 */
final class JvmPlatform implements Platform {
  static final String PACKAGE = "org.mobilenet.toolkit.demo";
  private final File root;
  private final Map<String, Object> device;
  private final File bundledPhoto;

  JvmPlatform(File root, Map<String, Object> device, File bundledPhoto) {
    this.root = root;
    this.device = device;
    this.bundledPhoto = bundledPhoto;
  }

  @Override
  public String pushDir() {
    return "/data/local/tmp/mobilenet_bench"; // Models.PUSH_DIR
  }

  @Override
  public String filesDir() {
    return "/data/user/0/" + PACKAGE + "/files"; // Context.getFilesDir()
  }

  @Override
  public File resultsDir() {
    return file("/sdcard/Android/data/" + PACKAGE + "/files/results"); // getExternalFilesDir(null)/results
  }

  @Override
  public File file(String devicePath) {
    return new File(root, devicePath.substring(1));
  }

  @Override
  public Photo decodePhoto(String devicePath) throws IOException {
    File f = devicePath == null ? bundledPhoto : file(devicePath);
    BufferedImage img = ImageIO.read(f);
    if (img == null) {
      throw new IOException("cannot decode " + f.getName());
    }
    int w = img.getWidth();
    int h = img.getHeight();
    return new Photo(img.getRGB(0, 0, w, h, null, 0, w), w, h, f.getName());
  }

  @SuppressWarnings("unchecked")
  @Override
  public Map<String, Object> deviceInfo() {
    Map<String, Object> props = (Map<String, Object>) device.get("props");
    Map<String, Object> d = new LinkedHashMap<String, Object>();
    d.put("name", props.get("ro.product.manufacturer") + " " + props.get("ro.product.model"));
    d.put("os", "Android " + props.get("ro.build.version.release") + " (API " + props.get("ro.build.version.sdk") + ")");
    d.put("cpu", props.get("ro.hardware"));
    d.put("cores", Integer.valueOf(Runtime.getRuntime().availableProcessors()));
    d.put("governor", null);
    d.put("abi", props.get("ro.product.cpu.abi"));
    return d;
  }

  @Override
  public Double batteryTemperatureC() {
    Object t = device.get("battery_temp");
    return t instanceof Number ? Double.valueOf(((Number) t).doubleValue()) : Double.valueOf(31.0);
  }

  @Override
  public String thermalStatus() {
    return "light";
  }

  /** VmHWM of this JVM, read the way AndroidPlatform reads the app's. */
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

  /** Appends to the fake phone's logcat in `adb logcat -v brief` form. */
  @Override
  public void log(boolean error, String message) {
    try {
      Writer w = new FileWriter(new File(root, ".logcat"), true);
      try {
        w.write((error ? "E" : "I") + "/MobilenetBench(" + ProcessHandle.current().pid() + "): " + message + "\n");
      } finally {
        w.close();
      }
    } catch (IOException e) {
      System.err.println(message);
    }
  }
}
