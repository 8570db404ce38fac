package org.mobilenet.toolkit.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Latency statistics, a line-for-line port of {@code toolkit/profile/stats.py}.
 *
 * <p>The phone and the host must report the same numbers for the same samples, so every formula
 * follows the Python one exactly: linear-interpolation percentiles ("type 7"), a trimmed mean
 * dropping {@code floor(n * trim)} samples from each end, the sample standard deviation (n - 1),
 * sums computed with Python's {@code math.fsum} (exactly rounded; see {@link #fsum}), and a
 * bootstrap CI of the median whose indices come from SplitMix64 with unsigned modulo.
 */
public final class Stats {
  public static final double DEFAULT_TRIM = 0.1;
  public static final int DEFAULT_RESAMPLES = 1000;
  public static final long DEFAULT_SEED = 0x5EEDL;

  private Stats() {}

  /** Steele, Lea and Flood's SplitMix64; Java's long arithmetic wraps like Python's masked ints. */
  public static final class SplitMix64 {
    private long state;

    public SplitMix64(long seed) {
      this.state = seed;
    }

    public long nextU64() {
      state += 0x9E3779B97F4A7C15L;
      long z = state;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      return z ^ (z >>> 31);
    }

    /** {@code next_u64() % n} with the 64-bit value read as unsigned, as Python does. */
    public int below(int n) {
      return (int) remainderUnsigned(nextU64(), n);
    }
  }

  /**
   * {@code Long.remainderUnsigned(dividend, divisor)} for a positive divisor. That method is Java 8
   * API, missing from the API 23 android.jar the smoke build compiles against, so it is spelled
   * out here (Hacker's Delight 9-3): halve, divide, double, then correct by at most one divisor.
   */
  public static long remainderUnsigned(long dividend, long divisor) {
    if (divisor <= 0) {
      throw new IllegalArgumentException("divisor must be positive, got " + divisor);
    }
    if (dividend >= 0) {
      return dividend % divisor;
    }
    long quotient = ((dividend >>> 1) / divisor) << 1;
    long rem = dividend - quotient * divisor;
    return rem >= divisor || rem < 0 ? rem - divisor : rem;
  }

  /** The summary the result schema stores; every field in milliseconds except {@code n}. */
  public static final class Summary {
    public int n;
    public double medianMs;
    public double p90Ms;
    public double meanMs;
    public double stdMs;
    public double minMs;
    public double maxMs;
    public double trimmedMeanMs;
    public double ci95LowMs;
    public double ci95HighMs;

    /** The schema's {@code stats} object, keys in the schema's order. */
    public Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<String, Object>();
      m.put("n", Integer.valueOf(n));
      m.put("median_ms", Double.valueOf(medianMs));
      m.put("p90_ms", Double.valueOf(p90Ms));
      m.put("mean_ms", Double.valueOf(meanMs));
      m.put("std_ms", Double.valueOf(stdMs));
      m.put("min_ms", Double.valueOf(minMs));
      m.put("max_ms", Double.valueOf(maxMs));
      m.put("trimmed_mean_ms", Double.valueOf(trimmedMeanMs));
      m.put("ci95_low_ms", Double.valueOf(ci95LowMs));
      m.put("ci95_high_ms", Double.valueOf(ci95HighMs));
      return m;
    }
  }

  /**
   * Exactly rounded sum of {@code xs[from, to)}: CPython's {@code math.fsum} (Shewchuk's partials
   * plus its half-even correction), so means match Python to the last bit.
   */
  public static double fsum(double[] xs, int from, int to) {
    double[] p = new double[Math.max(4, to - from)];
    int n = 0;
    for (int k = from; k < to; k++) {
      double x = xs[k];
      int i = 0;
      for (int j = 0; j < n; j++) {
        double y = p[j];
        if (Math.abs(x) < Math.abs(y)) {
          double t = x;
          x = y;
          y = t;
        }
        double hi = x + y;
        double lo = y - (hi - x);
        if (lo != 0.0) {
          p[i++] = lo;
        }
        x = hi;
      }
      n = i;
      if (x != 0.0) {
        if (n == p.length) {
          p = Arrays.copyOf(p, 2 * n);
        }
        p[n++] = x;
      }
    }
    double hi = 0.0;
    if (n > 0) {
      double lo = 0.0;
      hi = p[--n];
      while (n > 0) {
        double x = hi;
        double y = p[--n];
        hi = x + y;
        lo = y - (hi - x);
        if (lo != 0.0) {
          break;
        }
      }
      if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
        double y = lo * 2.0;
        double x = hi + y;
        if (y == x - hi) {
          hi = x;
        }
      }
    }
    return hi;
  }

  /** Linear interpolation between closest ranks (numpy's default); q in [0, 100]. */
  public static double percentile(double[] sorted, double q) {
    int n = sorted.length;
    if (n == 0) {
      throw new IllegalArgumentException("no samples");
    }
    double pos = (n - 1) * q / 100.0;
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, n - 1);
    double frac = pos - lo;
    return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
  }

  /** Mean after dropping {@code floor(n * trim)} samples from each end of the sorted samples. */
  public static double trimmedMean(double[] sorted, double trim) {
    int n = sorted.length;
    int k = (int) Math.floor(n * trim);
    if (n - 2 * k <= 0) {
      k = 0;
    }
    return fsum(sorted, k, n - k) / (n - 2 * k);
  }

  /** Percentile-bootstrap CI of the median; pass the samples sorted ascending, as Python does. */
  public static double[] bootstrapMedianCi(double[] samples, int resamples, double confidence, long seed) {
    int n = samples.length;
    if (n == 0) {
      throw new IllegalArgumentException("no samples");
    }
    SplitMix64 rng = new SplitMix64(seed);
    double[] medians = new double[resamples];
    double[] draw = new double[n];
    for (int r = 0; r < resamples; r++) {
      for (int i = 0; i < n; i++) {
        draw[i] = samples[rng.below(n)];
      }
      Arrays.sort(draw);
      medians[r] = percentile(draw, 50.0);
    }
    Arrays.sort(medians);
    double tail = (1.0 - confidence) / 2.0 * 100.0;
    return new double[] {percentile(medians, tail), percentile(medians, 100.0 - tail)};
  }

  public static Summary summarize(double[] samplesMs) {
    return summarize(samplesMs, DEFAULT_TRIM, DEFAULT_RESAMPLES, DEFAULT_SEED);
  }

  /** Every statistic the result schema stores; {@code std} is the sample standard deviation. */
  public static Summary summarize(double[] samplesMs, double trim, int resamples, long seed) {
    int n = samplesMs.length;
    if (n == 0) {
      throw new IllegalArgumentException("no latency samples to summarize");
    }
    double[] xs = samplesMs.clone();
    Arrays.sort(xs);
    double mean = fsum(xs, 0, n) / n;
    double std = 0.0;
    if (n > 1) {
      double[] sq = new double[n];
      for (int i = 0; i < n; i++) {
        double d = xs[i] - mean;
        sq[i] = d * d;
      }
      std = Math.sqrt(fsum(sq, 0, n) / (n - 1));
    }
    double[] ci = bootstrapMedianCi(xs, resamples, 0.95, seed);
    Summary s = new Summary();
    s.n = n;
    s.medianMs = percentile(xs, 50.0);
    s.p90Ms = percentile(xs, 90.0);
    s.meanMs = mean;
    s.stdMs = std;
    s.minMs = xs[0];
    s.maxMs = xs[n - 1];
    s.trimmedMeanMs = trimmedMean(xs, trim);
    s.ci95LowMs = ci[0];
    s.ci95HighMs = ci[1];
    return s;
  }
}
