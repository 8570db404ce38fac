package org.mobilenet.toolkit.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The measurement protocol of {@code toolkit/profile/protocol.py}, on the phone: optional cooldown,
 * load (timed), bind the input built once, first inference (timed separately: it includes lazy init
 * and delegate compilation), {@code warmup} untimed runs, then {@code iterations} timed runs, or as
 * many as fit in {@code durationS} when that is set. Inside each timed inference nothing is allocated and
 * nothing is copied by the app: each sample is one {@link Backend#run} on the bound buffer.
 *
 * <p>Given a {@link Frame}, each warm-up and timed iteration first writes a new frame into the bound input
 * buffer (resize, normalize, write: what a camera app does before every inference), timed on its own
 * ({@link Result#preprocessMs}), then times the inference exactly as without it. Sample {@code i} of both is
 * one frame from camera pixels to scores.
 */
public final class BenchmarkLoop {
  private BenchmarkLoop() {}

  /** How to measure; mirrors ProfileConfig. {@code threads == 0} means the runtime's default. */
  public static final class Config {
    public int threads;
    public int warmup = 10;
    public int iterations = 100;
    public double durationS; // <= 0: use iterations
    public double cooldownS;

    /** Throws IllegalArgumentException with the same wording as the Python config. */
    public void validate() {
      if (threads < 0) {
        throw new IllegalArgumentException("threads must be >= 0, got " + threads);
      }
      if (warmup < 0) {
        throw new IllegalArgumentException("warmup must be >= 0, got " + warmup);
      }
      if (iterations < 1) {
        throw new IllegalArgumentException("iterations must be >= 1, got " + iterations);
      }
      if (cooldownS < 0) {
        throw new IllegalArgumentException("cooldown must be >= 0 seconds, got " + cooldownS);
      }
    }
  }

  /** Time source; tests drive it by hand, the app uses {@link #SYSTEM}. */
  public interface Clock {
    long nanoTime();

    void sleepMs(long ms) throws InterruptedException;
  }

  public static final Clock SYSTEM =
      new Clock() {
        @Override
        public long nanoTime() {
          return System.nanoTime();
        }

        @Override
        public void sleepMs(long ms) throws InterruptedException {
          Thread.sleep(ms);
        }
      };

  /** One frame's preprocessing: writes the next input into the bound buffer, in its layout and dtype. */
  public interface Frame {
    void encode(ByteBuffer input);

    /** What {@link #encode} does, for the record (e.g. "resize 640x480 to 146x146, crop 128, ..."). */
    String steps();
  }

  /** What one run measured; times in milliseconds. */
  public static final class Result {
    public double loadMs;
    public double firstInferenceMs;
    public double[] latenciesMs;
    /** Each timed iteration's preprocessing, beside {@link #latenciesMs}; null when no frame was given. */
    public double[] preprocessMs;
    public String preprocessSteps;
    /** A copy of the first inference's raw output (native order). */
    public ByteBuffer firstOutput;
  }

  /** A failure with the protocol stage it happened in: "load", "input" (bind) or "run". */
  public static final class StageException extends Exception {
    private static final long serialVersionUID = 1L;
    public final String stage;

    StageException(String stage, Throwable cause) {
      super(cause);
      this.stage = stage;
    }
  }

  public static Result run(Backend backend, String modelPath, ByteBuffer input, TensorSpec in, TensorSpec out,
      Config cfg, Clock clock) throws StageException, InterruptedException {
    return run(backend, modelPath, input, in, out, null, cfg, clock);
  }

  /** As above; with a {@code frame}, each iteration preprocesses a new frame into {@code input} first. */
  public static Result run(Backend backend, String modelPath, ByteBuffer input, TensorSpec in, TensorSpec out,
      Frame frame, Config cfg, Clock clock) throws StageException, InterruptedException {
    cfg.validate();
    if (cfg.cooldownS > 0) {
      clock.sleepMs((long) (cfg.cooldownS * 1000.0));
    }
    Result r = new Result();
    String stage = "load";
    try {
      long t0 = clock.nanoTime();
      backend.load(modelPath, cfg.threads);
      r.loadMs = ms(clock.nanoTime() - t0);
      stage = "input";
      backend.bind(input, in, out);
      stage = "run";
      t0 = clock.nanoTime();
      backend.run();
      r.firstInferenceMs = ms(clock.nanoTime() - t0);
      r.firstOutput = copy(backend.output(), out.nbytes());
      for (int i = 0; i < cfg.warmup; i++) {
        if (frame != null) {
          frame.encode(input);
        }
        backend.run();
      }
      Samples t = cfg.durationS > 0
          ? timeFor(backend, frame, input, cfg.durationS, clock)
          : timeN(backend, frame, input, cfg.iterations, clock);
      r.latenciesMs = t.inference;
      r.preprocessMs = t.preprocess;
      r.preprocessSteps = frame == null ? null : frame.steps();
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception | LinkageError e) { // NoClassDefFoundError: a runtime class missing from the build
      throw new StageException(stage, e);
    }
    return r;
  }

  /** Inference samples, and the preprocessing before each (null without a frame). */
  private static final class Samples {
    double[] inference;
    double[] preprocess;
  }

  private static Samples timeN(Backend backend, Frame frame, ByteBuffer input, int n, Clock clock) throws Exception {
    double[] lat = new double[n];
    double[] pre = frame == null ? null : new double[n];
    for (int i = 0; i < n; i++) {
      if (frame != null) {
        long p = clock.nanoTime();
        frame.encode(input);
        pre[i] = ms(clock.nanoTime() - p);
      }
      long s = clock.nanoTime();
      backend.run();
      lat[i] = ms(clock.nanoTime() - s);
    }
    Samples out = new Samples();
    out.inference = lat;
    out.preprocess = pre;
    return out;
  }

  private static Samples timeFor(Backend backend, Frame frame, ByteBuffer input, double seconds, Clock clock)
      throws Exception {
    double[] buf = new double[4096]; // grown (outside any timed interval) only past 4096 samples
    double[] pre = new double[frame == null ? 0 : buf.length];
    int n = 0;
    long end = clock.nanoTime() + (long) (seconds * 1e9);
    while (true) {
      double p = 0;
      if (frame != null) {
        long ps = clock.nanoTime();
        frame.encode(input);
        p = ms(clock.nanoTime() - ps);
      }
      long s = clock.nanoTime();
      backend.run();
      long e = clock.nanoTime();
      if (n == buf.length) {
        buf = Arrays.copyOf(buf, n * 2);
        pre = frame == null ? pre : Arrays.copyOf(pre, n * 2);
      }
      buf[n] = ms(e - s);
      if (frame != null) {
        pre[n] = p;
      }
      n++;
      if (e >= end) {
        break;
      }
    }
    Samples out = new Samples();
    out.inference = Arrays.copyOf(buf, n);
    out.preprocess = frame == null ? null : Arrays.copyOf(pre, n);
    return out;
  }

  private static ByteBuffer copy(ByteBuffer raw, int nbytes) {
    if (raw.limit() < nbytes) {
      throw new IllegalStateException("the runtime returned " + raw.limit() + " output bytes, the manifest needs " + nbytes);
    }
    ByteBuffer src = raw.duplicate();
    src.position(0).limit(nbytes);
    ByteBuffer c = ByteBuffer.allocate(nbytes).order(raw.order() == null ? ByteOrder.nativeOrder() : raw.order());
    c.put(src);
    c.flip();
    return c;
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }
}
