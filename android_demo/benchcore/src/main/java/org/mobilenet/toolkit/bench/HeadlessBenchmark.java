package org.mobilenet.toolkit.bench;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

/**
 * The headless benchmark, from the start intent's extras to the result JSON: the one entry that
 * {@code BenchmarkActivity} calls on a phone and the tests' fake phone calls on the JVM.
 *
 * <p>Stages (named in the error record): {@code arguments} (extras, run id, paths), {@code manifest}
 * (the artifact's manifest, labels path, which runtime), {@code input} (the photo encoded into the
 * model's input dtype and layout, and the runtime's tensors checked against the manifest), {@code
 * load}, {@code run}, {@code output} (decoded scores checked). Any failure writes {@code
 * <run_id>.error.json} and runs nothing after it; success writes {@code <run_id>.json}.
 */
public final class HeadlessBenchmark {
  /** The error record's name when the run id itself is unusable as a file name. */
  public static final String INVALID_RUN_ID = "invalid-run-id";

  private HeadlessBenchmark() {}

  /** Runs one benchmark and returns the file it wrote (result or error record). */
  public static File run(Map<String, Object> extras, Platform p) {
    String stage = "arguments";
    String runId = INVALID_RUN_ID;
    String modelPath = extras.get("model_path") instanceof String ? (String) extras.get("model_path") : null;
    Backend backend = null;
    try {
      long now = System.currentTimeMillis();
      runId = BenchArgs.runId(extras, now);
      BenchArgs args = BenchArgs.parse(extras, now, p.pushDir(), p.filesDir());
      File model = confined(p, args.modelPath);
      File image = args.imagePath == null ? null : confined(p, args.imagePath);
      stage = "manifest";
      File manifestFile = new File(model.getPath() + ".manifest.json");
      if (!model.isFile()) {
        throw new IOException("no model at " + args.modelPath);
      }
      if (!manifestFile.isFile()) {
        throw new IOException("no manifest beside " + model.getName() + " (expected " + manifestFile.getName() + ")");
      }
      ModelManifest mf = ModelManifest.parse(FileIo.readText(manifestFile));
      mf.labelsPath(model);
      String runtime = runtimeFor(mf, model.getName());
      stage = "input";
      TensorCodec.checkFeedable(mf.inputSpec, mf.resolution); // before decoding: a cheap refusal first
      Platform.Photo photo = p.decodePhoto(image == null ? null : args.imagePath);
      BenchmarkLoop.Frame frame = TensorCodec.photoFrame(mf, photo.argb, photo.width, photo.height);
      ByteBuffer input = TensorCodec.allocate(mf.inputSpec);
      frame.encode(input); // the first frame, bound before the loop; each timed iteration writes a new one
      JsonReport report = new JsonReport();
      report.device.putAll(p.deviceInfo());
      report.temperatureBefore = p.batteryTemperatureC();
      stage = "load";
      backend = p.newBackend(runtime, args.delegate);
      p.log(false, "run " + runId + ": " + model.getName() + " on " + backend.name() + "/" + backend.delegate()
          + ", input " + mf.inputSpec + ", output " + mf.outputSpec);
      BenchmarkLoop.Result r;
      try {
        r = BenchmarkLoop.run(backend, model.getPath(), input, mf.inputSpec, mf.outputSpec, frame, args.config,
            p.clock());
      } catch (BenchmarkLoop.StageException e) {
        stage = e.stage;
        throw e.getCause();
      }
      stage = "output";
      report.firstOutput = TensorCodec.decode(r.firstOutput, mf.outputSpec);
      checkOutput(report.firstOutput, mf);
      report.runtimeName = backend.name();
      report.runtimeVersion = backend.version();
      report.runtimeVersionSource = backend.versionSource();
      report.delegate = backend.delegate();
      report.artifactSha256 = FileIo.sha256(model);
      report.artifactFile = model.getName();
      report.manifest = mf;
      report.config = args.config;
      report.result = r;
      report.temperatureAfter = p.batteryTemperatureC();
      report.thermalState = p.thermalStatus();
      report.peakMemoryMb = p.peakMemoryMb();
      report.notes.add("temperatures: battery sensor; input: " + photo.name + " as " + mf.inputSpec + " " + mf.inputSpec.layout);
      File out = new File(p.resultsDir(), runId + ".json");
      FileIo.writeAtomic(out, report.toJson());
      p.log(false, "run " + runId + " done: " + r.latenciesMs.length + " iterations -> " + out);
      return out;
    } catch (Throwable t) {
      String msg = t.getClass().getSimpleName() + ": " + t.getMessage();
      p.log(true, "run " + runId + " failed at " + stage + ": " + msg);
      File err = new File(p.resultsDir(), runId + ".error.json");
      try {
        FileIo.writeAtomic(err, JsonReport.errorJson(stage, msg, modelPath == null ? null : BenchArgs.printable(modelPath), runId));
      } catch (IOException e) {
        p.log(true, "cannot write the error record " + err + ": " + e.getMessage());
      }
      return err;
    } finally {
      if (backend != null) {
        backend.close();
      }
    }
  }

  /**
   * The runtime for an artifact, from its manifest's target (never its file name alone): executorch
   * for .pte, tflite for .tflite; anything else cannot run on Android.
   */
  public static String runtimeFor(ModelManifest mf, String fileName) {
    String target = mf.target == null ? mf.format : mf.target;
    if ("executorch".equals(target) || "tflite".equals(target)) {
      String ext = "executorch".equals(target) ? ".pte" : ".tflite";
      if (!fileName.endsWith(ext)) {
        throw new IllegalArgumentException("the manifest says a " + target + " artifact but the file is " + fileName);
      }
      return target;
    }
    throw new IllegalArgumentException("a " + target + " artifact (" + fileName
        + ") cannot run on Android: the app runs ExecuTorch (.pte) and LiteRT (.tflite) artifacts");
  }

  /** The decoded scores must be one finite value per class. */
  public static void checkOutput(float[] scores, ModelManifest mf) {
    if (scores.length != mf.numClasses) {
      throw new IllegalStateException(
          "model output has " + scores.length + " values, its manifest says " + mf.numClasses + " classes");
    }
    for (float v : scores) {
      if (Float.isNaN(v) || Float.isInfinite(v)) {
        throw new IllegalStateException("model output contains NaN or infinity");
      }
    }
  }

  /** The file behind a checked device path; its canonical form must stay inside one of the app's folders. */
  private static File confined(Platform p, String devicePath) throws IOException {
    File f = p.file(devicePath).getCanonicalFile();
    for (String root : new String[] {p.pushDir(), p.filesDir()}) {
      String r = p.file(root).getCanonicalPath();
      if (devicePath.startsWith(root + "/") && f.getPath().startsWith(r + File.separator)) {
        return f;
      }
    }
    throw new IllegalArgumentException(devicePath + " resolves outside the folders the app reads (a symbolic link?)");
  }
}
