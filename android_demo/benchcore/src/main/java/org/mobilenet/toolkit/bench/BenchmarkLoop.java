package org.mobilenet.toolkit.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The measurement protocol of {@code toolkit/profile/protocol.py}, on the phone: optional cooldown,
 * load (timed), bind the input built once, first inference (timed separately: it includes lazy init
 * and delegate compilation), {@code warmup} untimed runs, then {@code iterations} timed runs, or as
 * many as fit in {@code durationS} when that is set. Inside the timed loop nothing is allocated and
 * nothing is copied by the app: each sample is one {@link Backend#run} on the bound buffer.
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

  /** What one run measured; times in milliseconds. */
  public static final class Result {
    public double loadMs;
    public double firstInferenceMs;
    public double[] latenciesMs;
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
        backend.run();
      }
      r.latenciesMs = cfg.durationS > 0 ? timeFor(backend, cfg.durationS, clock) : timeN(backend, cfg.iterations, clock);
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception | LinkageError e) { // NoClassDefFoundError: a runtime class missing from the build
      throw new StageException(stage, e);
    }
    return r;
  }

  private static double[] timeN(Backend backend, int n, Clock clock) throws Exception {
    double[] lat = new double[n];
    for (int i = 0; i < n; i++) {
      long s = clock.nanoTime();
      backend.run();
      lat[i] = ms(clock.nanoTime() - s);
    }
    return lat;
  }

  private static double[] timeFor(Backend backend, double seconds, Clock clock) throws Exception {
    double[] buf = new double[4096]; // grown (outside any timed interval) only past 4096 samples
    int n = 0;
    long end = clock.nanoTime() + (long) (seconds * 1e9);
    while (true) {
      long s = clock.nanoTime();
      backend.run();
      long e = clock.nanoTime();
      if (n == buf.length) {
        buf = Arrays.copyOf(buf, n * 2);
      }
      buf[n++] = ms(e - s);
      if (e >= end) {
        break;
      }
    }
    return Arrays.copyOf(buf, n);
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
