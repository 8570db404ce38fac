package org.mobilenet.toolkit.demo;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.os.Bundle;
import android.util.Log;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import org.mobilenet.toolkit.bench.Backend;
import org.mobilenet.toolkit.bench.BenchmarkLoop;
import org.mobilenet.toolkit.bench.JsonReport;
import org.mobilenet.toolkit.bench.ModelManifest;

/**
 * Headless benchmark mode, driven over adb by {@code toolkit/profile/android.py}:
 *
 * <pre>
 * am start -n org.mobilenet.toolkit.demo/.BenchmarkActivity --es model_path /data/local/tmp/mobilenet_bench/m.pte \
 *   --es run_id ID --ei threads 4 --ei warmup 10 --ei iterations 100 --ef cooldown 0 [--ef duration 0]
 *   [--es delegate xnnpack|gpu|nnapi|cpu] [--es image_path /data/local/tmp/mobilenet_bench/x.jpg]
 * </pre>
 *
 * It preprocesses a real photo per the model's manifest, runs {@link BenchmarkLoop}, and writes the
 * shared result record to {@code <external files>/results/ID.json} (or {@code ID.error.json} when the
 * model is rejected), then finishes. The toolkit polls for either file and pulls it.
 */
public class BenchmarkActivity extends Activity {
  static final String TAG = "MobilenetBench";

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    final Intent intent = getIntent();
    new Thread(
            new Runnable() {
              @Override
              public void run() {
                benchmark(intent);
                runOnUiThread(
                    new Runnable() {
                      @Override
                      public void run() {
                        finish();
                      }
                    });
              }
            },
            "benchmark")
        .start();
  }

  private File resultsDir() {
    File ext = getExternalFilesDir(null);
    return new File(ext != null ? ext : getFilesDir(), "results");
  }

  private void benchmark(Intent intent) {
    String modelPath = intent.getStringExtra("model_path");
    String runId = intent.getStringExtra("run_id");
    if (runId == null || runId.isEmpty()) {
      runId = "run-" + System.currentTimeMillis();
    }
    File out = new File(resultsDir(), runId + ".json");
    String stage = "arguments";
    Backend backend = null;
    try {
      if (modelPath == null) {
        throw new IllegalArgumentException("missing --es model_path");
      }
      BenchmarkLoop.Config cfg = new BenchmarkLoop.Config();
      cfg.threads = intent.getIntExtra("threads", 0);
      cfg.warmup = intent.getIntExtra("warmup", 10);
      cfg.iterations = intent.getIntExtra("iterations", 100);
      cfg.cooldownS = intent.getFloatExtra("cooldown", 0f);
      cfg.durationS = intent.getFloatExtra("duration", 0f);
      cfg.validate();
      stage = "manifest";
      File model = new File(modelPath);
      Models.Entry entry = Models.open(model);
      ModelManifest mf = entry.manifest;
      stage = "input";
      float[] input = mf.preprocess().apply(pixels(intent), width, height);
      JsonReport report = new JsonReport();
      report.device.putAll(DeviceInfo.describe());
      report.temperatureBefore = DeviceInfo.batteryTemperature(this);
      stage = "load";
      backend = Models.backendFor(model, intent.getStringExtra("delegate"));
      Log.i(TAG, "run " + runId + ": " + model.getName() + " on " + backend.name() + "/" + backend.delegate());
      BenchmarkLoop.Result r = BenchmarkLoop.run(backend, modelPath, input, mf.inputShape, cfg, BenchmarkLoop.SYSTEM);
      stage = "output";
      checkOutput(r.firstOutput, mf);
      report.runtimeName = backend.name();
      report.runtimeVersion = backend.version();
      report.delegate = backend.delegate();
      report.artifactSha256 = Models.sha256(model);
      report.artifactFile = model.getName();
      report.manifest = mf;
      report.config = cfg;
      report.result = r;
      report.temperatureAfter = DeviceInfo.batteryTemperature(this);
      report.thermalState = DeviceInfo.thermalStatus(this);
      report.peakMemoryMb = peakRssMb();
      report.notes.add("temperatures: battery sensor; input: " + imageName(intent));
      Models.writeAtomic(out, report.toJson());
      Log.i(TAG, "run " + runId + " done: " + r.latenciesMs.length + " iterations -> " + out);
    } catch (Throwable t) {
      String msg = t.getClass().getSimpleName() + ": " + t.getMessage();
      Log.e(TAG, "run " + runId + " failed at " + stage + ": " + msg, t);
      try {
        Models.writeAtomic(new File(resultsDir(), runId + ".error.json"), JsonReport.errorJson(stage, msg, modelPath));
      } catch (IOException e) {
        Log.e(TAG, "cannot write the error record: " + e.getMessage());
      }
    } finally {
      if (backend != null) {
        backend.close();
      }
    }
  }

  private int width;
  private int height;

  /** ARGB pixels of the input photo: --es image_path, else the first bundled photo. */
  private int[] pixels(Intent intent) throws IOException {
    BitmapFactory.Options o = new BitmapFactory.Options();
    o.inPreferredConfig = Bitmap.Config.ARGB_8888;
    String path = intent.getStringExtra("image_path");
    Bitmap bmp;
    if (path != null) {
      bmp = BitmapFactory.decodeFile(path, o);
    } else {
      String[] names = getAssets().list("images");
      if (names == null || names.length == 0) {
        throw new IOException("no bundled photo in assets/images and no --es image_path");
      }
      InputStream in = getAssets().open("images/" + names[0]);
      try {
        bmp = BitmapFactory.decodeStream(in, null, o);
      } finally {
        in.close();
      }
    }
    if (bmp == null) {
      throw new IOException("cannot decode " + (path != null ? path : "the bundled photo"));
    }
    width = bmp.getWidth();
    height = bmp.getHeight();
    int[] px = new int[width * height];
    bmp.getPixels(px, 0, width, 0, 0, width, height);
    bmp.recycle();
    return px;
  }

  private String imageName(Intent intent) throws IOException {
    String path = intent.getStringExtra("image_path");
    if (path != null) {
      return new File(path).getName();
    }
    String[] names = getAssets().list("images");
    return names != null && names.length > 0 ? names[0] : "none";
  }

  static void checkOutput(float[] logits, ModelManifest mf) {
    if (logits.length != mf.numClasses) {
      throw new IllegalStateException(
          "model output has " + logits.length + " values, its manifest says " + mf.numClasses + " classes");
    }
    for (float v : logits) {
      if (Float.isNaN(v) || Float.isInfinite(v)) {
        throw new IllegalStateException("model output contains NaN or infinity");
      }
    }
  }

  /** VmHWM from /proc/self/status: this process's peak resident memory, in MB. */
  private static Double peakRssMb() {
    try {
      String status = Models.readText(new java.io.FileInputStream("/proc/self/status"));
      for (String line : status.split("\n")) {
        if (line.startsWith("VmHWM:")) {
          return Double.valueOf(Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0);
        }
      }
    } catch (IOException | NumberFormatException ignored) {
      // not fatal: the record allows a null peak
    }
    return null;
  }
}
