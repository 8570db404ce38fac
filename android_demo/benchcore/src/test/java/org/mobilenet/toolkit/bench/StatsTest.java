package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StatsTest {
  @Test
  void splitMix64MatchesReferenceSequence() {
    // First outputs for seed 0 from the SplitMix64 reference (Vigna's splitmix64.c).
    Stats.SplitMix64 rng = new Stats.SplitMix64(0L);
    assertEquals(0xE220A8397B1DCDAFL, rng.nextU64());
    assertEquals(0x6E789E6AA1B965F4L, rng.nextU64());
    assertEquals(0x06C45D188009454FL, rng.nextU64());
  }

  @Test
  void belowUsesUnsignedModulo() {
    // 0xE220A8397B1DCDAF is negative as a signed long; unsigned % 7 must still be in [0, 7).
    Stats.SplitMix64 rng = new Stats.SplitMix64(0L);
    int v = rng.below(7);
    assertEquals(Long.remainderUnsigned(0xE220A8397B1DCDAFL, 7L), v);
    assertTrue(v >= 0 && v < 7);
  }

  @Test
  void remainderUnsignedEqualsTheJdkMethod() {
    Stats.SplitMix64 rng = new Stats.SplitMix64(123L);
    long[] divisors = {1, 2, 3, 7, 100, 257, 1000, 65537, Integer.MAX_VALUE};
    for (int i = 0; i < 20000; i++) {
      long x = rng.nextU64();
      for (long d : divisors) {
        assertEquals(Long.remainderUnsigned(x, d), Stats.remainderUnsigned(x, d));
      }
    }
    assertEquals(Long.remainderUnsigned(-1L, 10L), Stats.remainderUnsigned(-1L, 10L));
    assertEquals(Long.remainderUnsigned(Long.MIN_VALUE, 3L), Stats.remainderUnsigned(Long.MIN_VALUE, 3L));
  }

  @Test
  void percentileInterpolatesLikeNumpy() {
    double[] xs = {1.0, 2.0, 3.0, 4.0};
    assertEquals(2.5, Stats.percentile(xs, 50.0), 0.0);
    assertEquals(3.7, Stats.percentile(xs, 90.0), 1e-12);
    assertEquals(1.0, Stats.percentile(xs, 0.0), 0.0);
    assertEquals(4.0, Stats.percentile(xs, 100.0), 0.0);
    assertThrows(IllegalArgumentException.class, () -> Stats.percentile(new double[0], 50.0));
  }

  @Test
  void fsumIsExactlyRounded() {
    // Naive left-to-right summation gives 0.0 here; the exact sum is 1.0 (math.fsum example).
    double[] xs = {1e100, 1.0, -1e100};
    assertEquals(1.0, Stats.fsum(xs, 0, 3), 0.0);
    double[] tenths = new double[10];
    java.util.Arrays.fill(tenths, 0.1);
    assertEquals(1.0, Stats.fsum(tenths, 0, 10), 0.0);
  }

  @Test
  void trimmedMeanDropsFloorOfNTimesTrim() {
    double[] xs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 100};
    // floor(10 * 0.1) = 1 from each end: mean of 2..9
    assertEquals(5.5, Stats.trimmedMean(xs, 0.1), 0.0);
    assertEquals(14.5, Stats.trimmedMean(xs, 0.0), 0.0);
  }

  @Test
  void summarizeSingleSample() {
    Stats.Summary s = Stats.summarize(new double[] {3.5});
    assertEquals(1, s.n);
    assertEquals(0.0, s.stdMs, 0.0);
    assertEquals(3.5, s.ci95LowMs, 0.0);
    assertEquals(3.5, s.ci95HighMs, 0.0);
  }

  @Test
  void summarizeIsOrderIndependentAndBracketsTheMedian() {
    double[] xs = new double[101];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = 10.0 + ((i * 37) % 101) * 0.01;
    }
    Stats.Summary a = Stats.summarize(xs);
    double[] rev = new double[xs.length];
    for (int i = 0; i < xs.length; i++) {
      rev[i] = xs[xs.length - 1 - i];
    }
    Stats.Summary b = Stats.summarize(rev);
    assertEquals(a.ci95LowMs, b.ci95LowMs, 0.0);
    assertEquals(a.meanMs, b.meanMs, 0.0);
    assertEquals(10.5, a.medianMs, 1e-12);
    assertTrue(a.ci95LowMs <= a.medianMs && a.medianMs <= a.ci95HighMs);
    assertTrue(a.ci95LowMs < a.ci95HighMs);
    assertArrayEquals(new double[] {10.0, 11.0}, new double[] {a.minMs, a.maxMs}, 1e-12);
  }

  @Test
  void summarizeRejectsEmpty() {
    assertThrows(IllegalArgumentException.class, () -> Stats.summarize(new double[0]));
  }
}
