package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

  static final TensorSpec IN = new TensorSpec("float32", new long[] {1, 2}, "nchw", null, null);
  static final TensorSpec OUT = new TensorSpec("float32", new long[] {1, 2}, null, null, null);

  /** A backend that sums its bound input (a real computation) and takes a scripted time per call. */
  static class SummingBackend implements Backend {
    final FakeClock clock;
    int loads;
    int runs;
    int threads = -1;
    ByteBuffer bound;
    final ByteBuffer out = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());

    SummingBackend(FakeClock clock) {
      this.clock = clock;
    }

    public String name() {
      return "executorch";
    }

    public String version() {
      return "1.5.1";
    }

    public String versionSource() {
      return "declared";
    }

    public String delegate() {
      return "xnnpack";
    }

    public void load(String path, int threads) {
      loads++;
      this.threads = threads;
      clock.now += 5000000L; // 5 ms
    }

    public void bind(ByteBuffer input, TensorSpec in, TensorSpec out) {
      bound = input;
    }

    public void run() {
      runs++;
      clock.now += (runs == 1 ? 9000000L : 1000000L + runs * 1000L);
      float s = bound.getFloat(0) + bound.getFloat(4);
      out.putFloat(0, s + runs); // changes every run: the loop must keep the first one
      out.putFloat(4, -s);
    }

    public ByteBuffer output() {
      return out;
    }

    public void close() {}
  }

  static ByteBuffer input(float a, float b) {
    ByteBuffer in = TensorCodec.allocate(IN);
    in.putFloat(0, a).putFloat(4, b);
    return in;
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
    ByteBuffer in = input(1f, 2f);
    BenchmarkLoop.Result r = BenchmarkLoop.run(b, "m.pte", in, IN, OUT, c, clock);
    assertEquals(250, clock.slept);
    assertEquals(2, b.threads);
    assertSame(in, b.bound); // the buffer built once is the one every run reads
    assertEquals(5.0, r.loadMs, 1e-9);
    assertEquals(9.0, r.firstInferenceMs, 1e-9);
    assertEquals(1 + 3 + 4, b.runs);
    // timed runs are calls 5..8: 1 ms + runs * 1 us
    assertArrayEquals(new double[] {1.005, 1.006, 1.007, 1.008}, r.latenciesMs, 1e-9);
    assertArrayEquals(new float[] {4f, -3f}, TensorCodec.decode(r.firstOutput, OUT), 0f); // a copy of run 1
  }

  @Test
  void durationModeRunsUntilTimeIsUp() throws Exception {
    FakeClock clock = new FakeClock();
    SummingBackend b = new SummingBackend(clock);
    BenchmarkLoop.Config c = new BenchmarkLoop.Config();
    c.warmup = 0;
    c.iterations = 1;
    c.durationS = 0.0105; // runs of ~1.00x ms: the 11th is the first to end past 10.5 ms
    BenchmarkLoop.Result r = BenchmarkLoop.run(b, "m.pte", input(1f, 0f), IN, OUT, c, clock);
    assertEquals(11, r.latenciesMs.length);
  }

  @Test
  void invalidConfigIsRejectedBeforeLoading() {
    FakeClock clock = new FakeClock();
    SummingBackend b = new SummingBackend(clock);
    BenchmarkLoop.Config c = new BenchmarkLoop.Config();
    c.iterations = 0;
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> BenchmarkLoop.run(b, "m", input(0f, 0f), IN, OUT, c, clock));
    assertEquals("iterations must be >= 1, got 0", e.getMessage());
    assertEquals(0, b.loads);
  }

  @Test
  void failuresCarryTheirStage() {
    FakeClock clock = new FakeClock();
    SummingBackend b = new SummingBackend(clock) {
      @Override
      public void bind(ByteBuffer input, TensorSpec in, TensorSpec out) {
        throw new IllegalArgumentException("the model's input tensor is INT8");
      }
    };
    BenchmarkLoop.StageException e = assertThrows(BenchmarkLoop.StageException.class,
        () -> BenchmarkLoop.run(b, "m", input(0f, 0f), IN, OUT, new BenchmarkLoop.Config(), clock));
    assertEquals("input", e.stage);
    assertEquals(0, b.runs); // nothing ran after the refusal
    SummingBackend missing = new SummingBackend(clock) {
      @Override
      public void load(String path, int threads) {
        throw new NoClassDefFoundError("org/tensorflow/lite/gpu/GpuDelegateFactory$Options");
      }
    };
    e = assertThrows(BenchmarkLoop.StageException.class,
        () -> BenchmarkLoop.run(missing, "m", input(0f, 0f), IN, OUT, new BenchmarkLoop.Config(), clock));
    assertEquals("load", e.stage);
  }

  /** Writes (frame number, 1) into the bound buffer and takes 0.5 ms: a scripted camera frame. */
  static final class CountingFrame implements BenchmarkLoop.Frame {
    final FakeClock clock;
    int frames;

    CountingFrame(FakeClock clock) {
      this.clock = clock;
    }

    @Override
    public void encode(ByteBuffer input) {
      frames++;
      input.putFloat(0, frames).putFloat(4, 1f);
      clock.now += 500000L;
    }

    @Override
    public String steps() {
      return "scripted";
    }
  }

  @Test
  void eachTimedIterationPreprocessesAFrameTimedApartFromItsInference() throws Exception {
    FakeClock clock = new FakeClock();
    SummingBackend b = new SummingBackend(clock);
    CountingFrame frame = new CountingFrame(clock);
    BenchmarkLoop.Config c = new BenchmarkLoop.Config();
    c.warmup = 2;
    c.iterations = 3;
    ByteBuffer in = input(1f, 2f);
    BenchmarkLoop.Result r = BenchmarkLoop.run(b, "m.pte", in, IN, OUT, frame, c, clock);
    assertEquals(2 + 3, frame.frames); // warm-up and timed iterations each get a new frame; the first run none
    assertArrayEquals(new double[] {0.5, 0.5, 0.5}, r.preprocessMs, 1e-9);
    // the inference samples are exactly what they are without a frame: runs 4..6, 1 ms + runs * 1 us
    assertArrayEquals(new double[] {1.004, 1.005, 1.006}, r.latenciesMs, 1e-9);
    assertArrayEquals(new float[] {4f, -3f}, TensorCodec.decode(r.firstOutput, OUT), 0f); // the bound first frame
    assertEquals(6f, b.out.getFloat(0) - b.runs, 0f); // the last run read the last frame: 5 + 1
    assertEquals("scripted", r.preprocessSteps);
    c.durationS = 0.0105;
    BenchmarkLoop.Result timed = BenchmarkLoop.run(new SummingBackend(clock), "m.pte", in, IN, OUT, frame, c, clock);
    assertEquals(timed.latenciesMs.length, timed.preprocessMs.length);
    BenchmarkLoop.Result none = BenchmarkLoop.run(new SummingBackend(clock), "m.pte", in, IN, OUT, c, clock);
    assertEquals(null, none.preprocessMs);
  }
}
