package org.mobilenet.toolkit.bench;

/**
 * The measurement protocol of {@code toolkit/profile/protocol.py}, on the phone: optional cooldown,
 * load (timed), first inference (timed separately: it includes lazy init and delegate compilation),
 * {@code warmup} untimed runs, then {@code iterations} timed runs, or as many as fit in
 * {@code durationS} when that is set.
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
    public float[] firstOutput;
  }

  public static Result run(Backend backend, String modelPath, float[] input, long[] shape, Config cfg, Clock clock)
      throws Exception {
    cfg.validate();
    if (cfg.cooldownS > 0) {
      clock.sleepMs((long) (cfg.cooldownS * 1000.0));
    }
    Result r = new Result();
    long t0 = clock.nanoTime();
    backend.load(modelPath, cfg.threads);
    r.loadMs = ms(clock.nanoTime() - t0);
    t0 = clock.nanoTime();
    r.firstOutput = backend.run(input, shape);
    r.firstInferenceMs = ms(clock.nanoTime() - t0);
    for (int i = 0; i < cfg.warmup; i++) {
      backend.run(input, shape);
    }
    if (cfg.durationS > 0) {
      r.latenciesMs = timeFor(backend, input, shape, cfg.durationS, clock);
    } else {
      r.latenciesMs = new double[cfg.iterations];
      for (int i = 0; i < cfg.iterations; i++) {
        long s = clock.nanoTime();
        backend.run(input, shape);
        r.latenciesMs[i] = ms(clock.nanoTime() - s);
      }
    }
    return r;
  }

  private static double[] timeFor(Backend backend, float[] input, long[] shape, double seconds, Clock clock)
      throws Exception {
    double[] buf = new double[64];
    int n = 0;
    long end = clock.nanoTime() + (long) (seconds * 1e9);
    do {
      long s = clock.nanoTime();
      backend.run(input, shape);
      long e = clock.nanoTime();
      if (n == buf.length) {
        buf = java.util.Arrays.copyOf(buf, n * 2);
      }
      buf[n++] = ms(e - s);
      if (e >= end) {
        break;
      }
    } while (true);
    return java.util.Arrays.copyOf(buf, n);
  }

  private static double ms(long nanos) {
    return nanos / 1e6;
  }
}
