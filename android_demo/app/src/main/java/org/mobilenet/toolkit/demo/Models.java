package org.mobilenet.toolkit.demo;

import android.content.Context;
import android.content.res.AssetManager;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.mobilenet.toolkit.bench.Backend;
import org.mobilenet.toolkit.bench.FileIo;
import org.mobilenet.toolkit.bench.HeadlessBenchmark;
import org.mobilenet.toolkit.bench.ModelManifest;

/**
 * Where models come from (bundled assets/models/ or pushed by the toolkit to {@link #PUSH_DIR}),
 * how a model's manifest and labels are found beside it, and which runtime opens it.
 */
final class Models {
  /** The toolkit pushes artifact + manifest + labels here (readable by the app, writable by adb). */
  static final String PUSH_DIR = "/data/local/tmp/mobilenet_bench";
  static final String ASSET_DIR = "models";

  private Models() {}

  /** One model the app can run: its file on disk and its parsed manifest. */
  static final class Entry {
    final File file;
    final ModelManifest manifest;

    Entry(File file, ModelManifest manifest) {
      this.file = file;
      this.manifest = manifest;
    }

    @Override
    public String toString() {
      return manifest.variant + " · " + manifest.target + " " + manifest.precision;
    }
  }

  /** Bundled models first (copied out of the APK once), then pushed ones. */
  static List<Entry> list(Context ctx) {
    List<Entry> out = new ArrayList<Entry>();
    try {
      String[] names = ctx.getAssets().list(ASSET_DIR);
      if (names != null) {
        Arrays.sort(names);
        for (String name : names) {
          if (name.endsWith(".pte") || name.endsWith(".tflite")) {
            out.add(open(bundled(ctx, name)));
          }
        }
      }
    } catch (IOException | IllegalArgumentException e) {
      android.util.Log.w(AndroidPlatform.TAG, "bundled models: " + e.getMessage());
    }
    File[] pushed = new File(PUSH_DIR).listFiles();
    if (pushed != null) {
      Arrays.sort(pushed);
      for (File f : pushed) {
        if (f.getName().endsWith(".pte") || f.getName().endsWith(".tflite")) {
          try {
            out.add(open(f));
          } catch (IOException | IllegalArgumentException e) {
            android.util.Log.w(AndroidPlatform.TAG, f + ": " + e.getMessage());
          }
        }
      }
    }
    return out;
  }

  /** Parse {@code <model>.manifest.json} beside the model. */
  static Entry open(File model) throws IOException {
    File mf = new File(model.getPath() + ".manifest.json");
    if (!mf.isFile()) {
      throw new IOException("no manifest beside " + model.getName() + " (expected " + mf.getName() + ")");
    }
    return new Entry(model, ModelManifest.parse(FileIo.readText(mf)));
  }

  /** Copy a bundled model, its manifest and labels from the APK to files/models (once per size). */
  static File bundled(Context ctx, String name) throws IOException {
    File dir = new File(ctx.getFilesDir(), ASSET_DIR);
    if (!dir.isDirectory() && !dir.mkdirs()) {
      throw new IOException("cannot create " + dir);
    }
    AssetManager assets = ctx.getAssets();
    String[] all = assets.list(ASSET_DIR);
    for (String n : all == null ? new String[0] : all) {
      if (n.startsWith(name)) {
        copy(assets.open(ASSET_DIR + "/" + n), new File(dir, n));
      }
    }
    return new File(dir, name);
  }

  static List<String> labels(Entry e) {
    List<String> out = new ArrayList<String>();
    if (e.manifest.labelsFile == null) {
      return out;
    }
    try {
      File f = e.manifest.labelsPath(e.file); // refuses a labels_file outside the model's folder
      for (String line : FileIo.readText(f).split("\n")) {
        out.add(line);
      }
    } catch (IOException | IllegalArgumentException ignored) {
      // labels are optional: the screen falls back to class indices
    }
    return out;
  }

  /** The runtime for this model, chosen from its manifest (the core refuses what Android cannot run). */
  static Backend backendFor(Entry e, String delegate) {
    return Backends.create(HeadlessBenchmark.runtimeFor(e.manifest, e.file.getName()), delegate);
  }

  private static void copy(InputStream in, File dest) throws IOException {
    File tmp = new File(dest.getPath() + ".tmp");
    OutputStream out = new FileOutputStream(tmp);
    try {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
      }
    } finally {
      out.close();
      in.close();
    }
    if (!tmp.renameTo(dest)) {
      throw new IOException("cannot write " + dest);
    }
  }
}
