package org.mobilenet.toolkit.bench;

import java.awt.image.BufferedImage;
import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;

/**
 * Command-line entry for the cross-language golden tests (tests/test_android_jvm.py): Python feeds
 * files in, this writes the Java results out, and pytest compares them with toolkit's own code.
 *
 * <pre>
 * stats SAMPLES.txt                       -> stats JSON on stdout
 * normalize RGB RES LAYOUT M0 M1 M2 S0 S1 S2 OUT.f32
 * resize RGB W H RES CROP OUT.rgb         -> Pillow-compatible resize + center crop
 * decode IMAGE OUT.rgb                    -> javax.imageio decode, prints "W H"
 * pipeline IMAGE MANIFEST OUT.f32         -> decode + manifest preprocessing, as the app does it
 * report SAMPLES.txt MANIFEST OUT.json    -> a full result record
 * encode RGB MANIFEST OUT.bin             -> cropped pixels as the model's input bytes (native order)
 * decode-output RAW MANIFEST OUT.f32      -> a raw output tensor as float32 scores
 * half IN.f32 OUT.f16                     -> float32 values rounded to binary16 bits
 * </pre>
 */
public final class GoldenMain {
  private GoldenMain() {}

  public static void main(String[] a) throws Exception {
    switch (a[0]) {
      case "stats":
        System.out.print(Json.write(Stats.summarize(readSamples(a[1])).toMap()));
        break;
      case "normalize": {
        int res = Integer.parseInt(a[2]);
        double[] mean = {Double.parseDouble(a[4]), Double.parseDouble(a[5]), Double.parseDouble(a[6])};
        double[] std = {Double.parseDouble(a[7]), Double.parseDouble(a[8]), Double.parseDouble(a[9])};
        Preprocess p = new Preprocess(res, mean, std, 1.0, a[3]);
        writeFloats(p.normalize(readRgb(a[1])), a[10]);
        break;
      }
      case "resize": {
        int w = Integer.parseInt(a[2]);
        int h = Integer.parseInt(a[3]);
        Preprocess p = new Preprocess(Integer.parseInt(a[4]), new double[] {0, 0, 0}, new double[] {1, 1, 1},
            Double.parseDouble(a[5]), "nchw");
        writeRgb(p.resizeAndCrop(readRgb(a[1]), w, h), a[6]);
        break;
      }
      case "decode": {
        BufferedImage img = ImageIO.read(new File(a[1]));
        writeRgb(argb(img), a[2]);
        System.out.println(img.getWidth() + " " + img.getHeight());
        break;
      }
      case "pipeline": {
        BufferedImage img = ImageIO.read(new File(a[1]));
        ModelManifest m = ModelManifest.parse(read(a[2]));
        writeFloats(m.preprocess().apply(argb(img), img.getWidth(), img.getHeight()), a[3]);
        break;
      }
      case "report": {
        JsonReport r = new JsonReport();
        r.device.put("name", "JVM " + System.getProperty("java.version"));
        r.device.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        r.device.put("cores", Integer.valueOf(Runtime.getRuntime().availableProcessors()));
        r.manifest = ModelManifest.parse(read(a[2]));
        r.runtimeName = r.manifest.runtime;
        r.runtimeVersion = "test";
        r.delegate = r.manifest.delegate;
        r.artifactSha256 = r.manifest.sha256;
        r.artifactFile = r.manifest.file;
        r.config = new BenchmarkLoop.Config();
        r.result = new BenchmarkLoop.Result();
        r.result.latenciesMs = readSamples(a[1]);
        r.config.iterations = r.result.latenciesMs.length;
        r.result.loadMs = 12.5;
        r.result.firstInferenceMs = 3.25;
        r.temperatureBefore = Double.valueOf(31.5);
        r.notes.add("written by GoldenMain");
        Files.write(new File(a[3]).toPath(), r.toJson().getBytes(StandardCharsets.UTF_8));
        break;
      }
      case "encode": {
        ModelManifest m = ModelManifest.parse(read(a[2]));
        ByteBuffer out = TensorCodec.allocate(m.inputSpec);
        TensorCodec.encodePixels(readRgb(a[1]), m.preprocess().mean, m.preprocess().std, m.inputSpec, out);
        byte[] bytes = new byte[out.capacity()];
        out.get(bytes);
        Files.write(new File(a[3]).toPath(), bytes);
        break;
      }
      case "decode-output": {
        ModelManifest m = ModelManifest.parse(read(a[2]));
        ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(new File(a[1]).toPath())).order(ByteOrder.nativeOrder());
        writeFloats(TensorCodec.decode(raw, m.outputSpec), a[3]);
        break;
      }
      case "half": {
        ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(new File(a[1]).toPath())).order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer out = ByteBuffer.allocate(in.capacity() / 2).order(ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
          out.putShort(Half.fromFloat(in.getFloat()));
        }
        Files.write(new File(a[2]).toPath(), out.array());
        break;
      }
      default:
        throw new IllegalArgumentException("unknown command " + a[0]);
    }
  }

  static String read(String path) throws Exception {
    return new String(Files.readAllBytes(new File(path).toPath()), StandardCharsets.UTF_8);
  }

  static double[] readSamples(String path) throws Exception {
    List<Double> xs = new ArrayList<Double>();
    for (String line : read(path).split("\n")) {
      if (!line.trim().isEmpty()) {
        xs.add(Double.valueOf(line.trim()));
      }
    }
    double[] out = new double[xs.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = xs.get(i);
    }
    return out;
  }

  static int[] argb(BufferedImage img) {
    return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
  }

  static int[] readRgb(String path) throws Exception {
    byte[] b = Files.readAllBytes(new File(path).toPath());
    int[] px = new int[b.length / 3];
    for (int i = 0; i < px.length; i++) {
      px[i] = 0xFF000000 | ((b[3 * i] & 0xFF) << 16) | ((b[3 * i + 1] & 0xFF) << 8) | (b[3 * i + 2] & 0xFF);
    }
    return px;
  }

  static void writeRgb(int[] px, String path) throws Exception {
    byte[] b = new byte[px.length * 3];
    for (int i = 0; i < px.length; i++) {
      b[3 * i] = (byte) (px[i] >> 16);
      b[3 * i + 1] = (byte) (px[i] >> 8);
      b[3 * i + 2] = (byte) px[i];
    }
    Files.write(new File(path).toPath(), b);
  }

  static void writeFloats(float[] xs, String path) throws Exception {
    ByteBuffer buf = ByteBuffer.allocate(xs.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float x : xs) {
      buf.putFloat(x);
    }
    Files.write(new File(path).toPath(), buf.array());
  }

}
