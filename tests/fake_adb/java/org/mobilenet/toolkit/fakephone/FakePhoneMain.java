package org.mobilenet.toolkit.fakephone;

import java.io.File;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.mobilenet.toolkit.bench.FileIo;
import org.mobilenet.toolkit.bench.HeadlessBenchmark;
import org.mobilenet.toolkit.bench.Json;

/**
 * What the fake adb's {@code am start} launches: the intent's typed extras handed to the app's own
 * headless entry, {@link HeadlessBenchmark#run}, exactly as BenchmarkActivity hands them over.
 *
 * <pre>java -cp ... FakePhoneMain PHONE_ROOT DEVICE.json PHOTO EXTRAS.json</pre>
 *
 * EXTRAS.json maps each extra to [flag, value] as am parsed it ("es": string, "ei": int, "ef": float,
 * "ez": boolean, "el": long), so the core sees the same Java types as Intent.getExtras() gives.
 */
public final class FakePhoneMain {
  private FakePhoneMain() {}

  @SuppressWarnings("unchecked")
  public static void main(String[] args) throws Exception {
    File root = new File(args[0]);
    Map<String, Object> device = (Map<String, Object>) Json.parse(FileIo.readText(new File(args[1])));
    Map<String, Object> raw = (Map<String, Object>) Json.parse(FileIo.readText(new File(args[3])));
    Map<String, Object> extras = new LinkedHashMap<String, Object>();
    for (Map.Entry<String, Object> e : raw.entrySet()) {
      List<Object> fv = (List<Object>) e.getValue();
      String flag = (String) fv.get(0);
      Object v = fv.get(1);
      switch (flag) {
        case "ei":
          extras.put(e.getKey(), Integer.valueOf(((Long) v).intValue()));
          break;
        case "el":
          extras.put(e.getKey(), (Long) v);
          break;
        case "ef":
          extras.put(e.getKey(), Float.valueOf(((Number) v).floatValue()));
          break;
        case "ez":
          extras.put(e.getKey(), (Boolean) v);
          break;
        default:
          extras.put(e.getKey(), (String) v);
      }
    }
    HeadlessBenchmark.run(extras, new JvmPlatform(root, device, new File(args[2])));
  }
}
