package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class BenchmarkLoopTest {
  /** A clock that advances only when the backend works or the loop sleeps. */
  static final class FakeClock implements BenchmarkLoop.Clock {
    long now;
    long slept;

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public void sleepMs(long ms) {
      slept += ms;
      now += ms * 1000000L;
    }
  }

  /** A backend that sums its input (a real computation) and takes a scripted time per call. */
  static final class SummingBackend implements Backend {
    final FakeClock clock;
    int loads;
    int runs;
    int threads = -1;

    SummingBackend(FakeClock clock) {
      this.clock = clock;
    }

    public String name() {
      return "executorch";
    }

    public String version() {
      return "1.5.1";
    }

    public String delegate() {
      return "xnnpack";
    }

    public void load(String path, int threads) {
      loads++;
      this.threads = threads;
      clock.now += 5000000L; // 5 ms
    }

    public float[] run(float[] input, long[] shape) {
      runs++;
      clock.now += (runs == 1 ? 9000000L : 1000000L + runs * 1000L);
      float s = 0;
      for (float v : input) {
        s += v;
      }
      return new float[] {s, -s};
    }

    public void close() {}
  }

  @Test
  void timesLoadFirstWarmupAndIterations() throws Exception {
    FakeClock clock = new FakeClock();
    SummingBackend b = new SummingBackend(clock);
    BenchmarkLoop.Config c = new BenchmarkLoop.Config();
    c.threads = 2;
    c.warmup = 3;
    c.iterations = 4;
    c.cooldownS = 0.25;
    BenchmarkLoop.Result r = BenchmarkLoop.run(b, "m.pte", new float[] {1f, 2f}, new long[] {1, 2}, c, clock);
    assertEquals(250, clock.slept);
    assertEquals(2, b.threads);
    assertEquals(5.0, r.loadMs, 1e-9);
    assertEquals(9.0, r.firstInferenceMs, 1e-9);
    assertEquals(1 + 3 + 4, b.runs);
    // timed runs are calls 5..8: 1 ms + runs * 1 us
    assertArrayEquals(new double[] {1.005, 1.006, 1.007, 1.008}, r.latenciesMs, 1e-9);
    assertArrayEquals(new float[] {3f, -3f}, r.firstOutput, 0f);
  }

  @Test
  void durationModeRunsUntilTimeIsUp() throws Exception {
    FakeClock clock = new FakeClock();
    SummingBackend b = new SummingBackend(clock);
    BenchmarkLoop.Config c = new BenchmarkLoop.Config();
    c.warmup = 0;
    c.iterations = 1;
    c.durationS = 0.0105; // runs of ~1.00x ms: the 11th is the first to end past 10.5 ms
    BenchmarkLoop.Result r = BenchmarkLoop.run(b, "m.pte", new float[] {1f}, new long[] {1}, c, clock);
    assertEquals(11, r.latenciesMs.length);
  }

  @Test
  void invalidConfigIsRejectedBeforeLoading() {
    FakeClock clock = new FakeClock();
    SummingBackend b = new SummingBackend(clock);
    BenchmarkLoop.Config c = new BenchmarkLoop.Config();
    c.iterations = 0;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BenchmarkLoop.run(b, "m", new float[1], new long[] {1}, c, clock));
    assertEquals("iterations must be >= 1, got 0", e.getMessage());
    assertEquals(0, b.loads);
  }
}
