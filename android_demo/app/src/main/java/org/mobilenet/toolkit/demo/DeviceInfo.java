package org.mobilenet.toolkit.demo;

import android.content.Context;
import android.content.Intent;
import android.content.IntentFilter;
import android.os.BatteryManager;
import android.os.Build;
import android.os.PowerManager;
import java.io.File;
import java.util.LinkedHashMap;
import java.util.Map;
import org.mobilenet.toolkit.bench.FileIo;

/** The result record's device block and temperatures, readable without permissions. */
final class DeviceInfo {
  private DeviceInfo() {}

  static Map<String, Object> describe() {
    Map<String, Object> d = new LinkedHashMap<String, Object>();
    d.put("name", Build.MANUFACTURER + " " + Build.MODEL);
    d.put("os", "Android " + Build.VERSION.RELEASE + " (API " + Build.VERSION.SDK_INT + ")");
    d.put("cpu", soc());
    d.put("cores", Integer.valueOf(Runtime.getRuntime().availableProcessors()));
    d.put("governor", readLine("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"));
    d.put("abi", Build.SUPPORTED_ABIS.length > 0 ? Build.SUPPORTED_ABIS[0] : null);
    return d;
  }

  /** Build.SOC_MODEL exists from API 31; read it by reflection and fall back to Build.HARDWARE. */
  static String soc() {
    try {
      Object v = Build.class.getField("SOC_MODEL").get(null);
      if (v != null && !"unknown".equals(v)) {
        return Build.class.getField("SOC_MANUFACTURER").get(null) + " " + v;
      }
    } catch (NoSuchFieldException | IllegalAccessException ignored) {
      // older Android: no SoC field
    }
    return Build.HARDWARE;
  }

  /** Battery temperature in °C (the sticky broadcast reports tenths of a degree), or null. */
  static Double batteryTemperature(Context ctx) {
    Intent battery = ctx.registerReceiver(null, new IntentFilter(Intent.ACTION_BATTERY_CHANGED));
    if (battery == null) {
      return null;
    }
    int tenths = battery.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Integer.MIN_VALUE);
    return tenths == Integer.MIN_VALUE ? null : Double.valueOf(tenths / 10.0);
  }

  /** PowerManager.getCurrentThermalStatus() (API 29) by reflection: "none", "light", ... */
  static String thermalStatus(Context ctx) {
    String[] names = {"none", "light", "moderate", "severe", "critical", "emergency", "shutdown"};
    try {
      PowerManager pm = (PowerManager) ctx.getSystemService(Context.POWER_SERVICE);
      int s = ((Integer) PowerManager.class.getMethod("getCurrentThermalStatus").invoke(pm)).intValue();
      return s >= 0 && s < names.length ? names[s] : String.valueOf(s);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  private static String readLine(String path) {
    File f = new File(path);
    if (!f.canRead()) {
      return null;
    }
    try {
      return FileIo.readText(f).trim();
    } catch (java.io.IOException e) {
      return null;
    }
  }
}
