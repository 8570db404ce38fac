package org.mobilenet.toolkit.demo;

import android.app.Activity;
import android.content.Intent;
import android.os.Build;
import android.os.Bundle;
import android.view.WindowManager;
import android.widget.TextView;
import java.util.LinkedHashMap;
import java.util.Map;
import org.mobilenet.toolkit.bench.HeadlessBenchmark;

/**
 * Headless benchmark mode, started by {@code toolkit/profile/android.py} (and a device farm's test
 * host, with the same command) as:
 *
 * <pre>
 * am start -S -n org.mobilenet.toolkit.demo/.BenchmarkActivity --es model_path /data/local/tmp/mobilenet_bench/m.pte \
 *   --es run_id ID --ei threads 4 --ei warmup 10 --ei iterations 100 --ef cooldown 0 [--ef duration 0]
 *   [--es delegate xnnpack|gpu|nnapi|cpu] [--es image_path /data/local/tmp/mobilenet_bench/x.jpg]
 * </pre>
 *
 * <p>A normal, visible activity (no Theme.NoDisplay: from targetSdk 23 such an activity must finish
 * before onResume returns, and Android kills it otherwise). It keeps the screen on and shows itself
 * over the lock screen, so the app stays in the foreground, where the phone schedules it on its fast
 * cores, while {@link HeadlessBenchmark} measures on a background thread; then it finishes. Everything
 * between the extras and the result JSON is in that core class, which the tests run on the JVM.
 */
public class BenchmarkActivity extends Activity {
  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    keepScreenOn();
    TextView status = new TextView(this);
    status.setPadding(48, 48, 48, 48);
    status.setText("MobileNet benchmark running. Keep the phone on; this screen closes by itself.");
    setContentView(status);
    if (savedInstanceState != null) { // recreated by the system: the first instance owned the run
      finish();
      return;
    }
    final Map<String, Object> extras = extras(getIntent());
    final AndroidPlatform platform = new AndroidPlatform(this);
    new Thread(
            new Runnable() {
              @Override
              public void run() {
                try {
                  HeadlessBenchmark.run(extras, platform); // writes the result or the error JSON
                } finally {
                  runOnUiThread(
                      new Runnable() {
                        @Override
                        public void run() {
                          finish();
                        }
                      });
                }
              }
            },
            "benchmark")
        .start();
  }

  /** Screen on, and over the keyguard: setShowWhenLocked/setTurnScreenOn from API 27 (by reflection). */
  private void keepScreenOn() {
    getWindow().addFlags(WindowManager.LayoutParams.FLAG_KEEP_SCREEN_ON);
    if (Build.VERSION.SDK_INT >= 27) {
      try {
        Activity.class.getMethod("setShowWhenLocked", boolean.class).invoke(this, Boolean.TRUE);
        Activity.class.getMethod("setTurnScreenOn", boolean.class).invoke(this, Boolean.TRUE);
        return;
      } catch (ReflectiveOperationException | RuntimeException e) {
        android.util.Log.w(AndroidPlatform.TAG, "setShowWhenLocked/setTurnScreenOn: " + e);
      }
    }
    getWindow().addFlags(WindowManager.LayoutParams.FLAG_SHOW_WHEN_LOCKED
        | WindowManager.LayoutParams.FLAG_TURN_SCREEN_ON);
  }

  /** The intent's extras with their types (String, Integer, Float, ...), for the core to check. */
  static Map<String, Object> extras(Intent intent) {
    Map<String, Object> out = new LinkedHashMap<String, Object>();
    Bundle b = intent.getExtras();
    if (b != null) {
      for (String key : b.keySet()) {
        out.put(key, b.get(key));
      }
    }
    return out;
  }
}
