/*
 * FAKE for the JVM fake phone (tests/fake_adb): the public API of pytorch/executorch
 * extension/android/executorch_android/src/main/java/org/pytorch/executorch/Tensor.kt as declared in
 * android_demo/stubs, with its checks and messages: the dtype comes from the buffer type (FloatBuffer
 * FLOAT, ShortBuffer HALF, ByteBuffer INT8, fromBlobUnsigned UINT8); buffers must be direct and
 * native-order and hold exactly numel(shape) elements; they are not copied.
 */
package org.pytorch.executorch;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Arrays;
import java.util.Locale;

public abstract class Tensor {
  final long[] shape;
  final Buffer data;

  Tensor() {
    throw new UnsupportedOperationException("use Tensor.fromBlob");
  }

  private Tensor(Buffer data, long[] shape) {
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("Shape elements must be non negative");
      }
    }
    this.data = data;
    this.shape = shape.clone();
  }

  private static final class Typed extends Tensor {
    private final DType dtype;

    Typed(Buffer data, long[] shape, DType dtype) {
      super(data, shape);
      this.dtype = dtype;
    }

    @Override
    public DType dtype() {
      return dtype;
    }
  }

  public static Tensor fromBlob(FloatBuffer data, long[] shape) {
    check(data.capacity(), data.isDirect(), data.order(), shape);
    return new Typed(data, shape, DType.FLOAT);
  }

  public static Tensor fromBlob(ShortBuffer data, long[] shape) {
    check(data.capacity(), data.isDirect(), data.order(), shape);
    return new Typed(data, shape, DType.HALF);
  }

  public static Tensor fromBlob(ByteBuffer data, long[] shape) {
    check(data.capacity(), data.isDirect(), data.order(), shape);
    return new Typed(data, shape, DType.INT8);
  }

  public static Tensor fromBlobUnsigned(ByteBuffer data, long[] shape) {
    check(data.capacity(), data.isDirect(), data.order(), shape);
    return new Typed(data, shape, DType.UINT8);
  }

  /** An output tensor from the runtime (raw native-order bytes of {@code dtype}). */
  static Tensor fromRuntime(byte[] bytes, long[] shape, DType dtype) {
    ByteBuffer b = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
    b.put(bytes);
    b.rewind();
    Buffer view = dtype == DType.FLOAT ? b.asFloatBuffer() : dtype == DType.HALF ? b.asShortBuffer() : b;
    return new Typed(view, shape, dtype);
  }

  private static void check(int capacity, boolean direct, ByteOrder order, long[] shape) {
    long numel = numel(shape);
    if (numel != capacity) {
      throw new IllegalArgumentException(String.format(Locale.US,
          "Inconsistent data capacity:%d and shape number elements:%d shape:%s", capacity, numel,
          Arrays.toString(shape)));
    }
    if (!direct) {
      throw new IllegalArgumentException("Data buffer must be direct (java.nio.ByteBuffer#allocateDirect)");
    }
    if (order != ByteOrder.nativeOrder()) {
      throw new IllegalArgumentException("Data buffer must have native byte order (java.nio.ByteOrder#nativeOrder)");
    }
  }

  private static long numel(long[] shape) {
    long n = 1;
    for (long s : shape) {
      if (s < 0) {
        throw new IllegalArgumentException("Shape elements must be non negative");
      }
      n *= s;
    }
    return n;
  }

  public long numel() {
    return numel(shape);
  }

  public long[] shape() {
    return shape.clone();
  }

  public abstract DType dtype();

  /** The raw bytes (native order), as the JNI layer reads the buffer's memory. */
  byte[] rawBytes() {
    int n = (int) numel();
    ByteBuffer out = ByteBuffer.allocate(n * (dtype() == DType.FLOAT ? 4 : dtype() == DType.HALF ? 2 : 1))
        .order(ByteOrder.nativeOrder());
    for (int i = 0; i < n; i++) {
      if (data instanceof FloatBuffer) {
        out.putFloat(((FloatBuffer) data).get(i));
      } else if (data instanceof ShortBuffer) {
        out.putShort(((ShortBuffer) data).get(i));
      } else {
        out.put(((ByteBuffer) data).get(i));
      }
    }
    return out.array();
  }

  public float[] getDataAsFloatArray() {
    int n = (int) numel();
    float[] out = new float[n];
    if (dtype() == DType.FLOAT) {
      for (int i = 0; i < n; i++) {
        out[i] = ((FloatBuffer) data).get(i);
      }
      return out;
    }
    if (dtype() == DType.HALF) { // Tensor_float16 widens (Tensor.kt halfBitsToFloat)
      for (int i = 0; i < n; i++) {
        out[i] = org.mobilenet.toolkit.fakephone.HalfBits.toFloat(((ShortBuffer) data).get(i));
      }
      return out;
    }
    throw new IllegalStateException("Tensor of type " + typeName() + " cannot return data as float array.");
  }

  public short[] getDataAsShortArray() {
    if (dtype() != DType.HALF) {
      throw new IllegalStateException("Tensor of type " + typeName() + " cannot return data as short array.");
    }
    short[] out = new short[(int) numel()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ((ShortBuffer) data).get(i);
    }
    return out;
  }

  public byte[] getDataAsByteArray() {
    if (dtype() != DType.INT8) {
      throw new IllegalStateException("Tensor of type " + typeName() + " cannot return data as byte array.");
    }
    return bytes();
  }

  public byte[] getDataAsUnsignedByteArray() {
    if (dtype() != DType.UINT8) {
      throw new IllegalStateException("Tensor of type " + typeName() + " cannot return data as unsigned byte array.");
    }
    return bytes();
  }

  private byte[] bytes() {
    byte[] out = new byte[(int) numel()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ((ByteBuffer) data).get(i);
    }
    return out;
  }

  private String typeName() {
    switch (dtype()) {
      case FLOAT:
        return "Tensor_float32";
      case HALF:
        return "Tensor_float16";
      case INT8:
        return "Tensor_int8";
      case UINT8:
        return "Tensor_uint8";
      default:
        return "Tensor_unsupported";
    }
  }
}
