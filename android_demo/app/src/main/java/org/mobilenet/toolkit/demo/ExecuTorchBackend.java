package org.mobilenet.toolkit.demo;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.mobilenet.toolkit.bench.Backend;
import org.mobilenet.toolkit.bench.TensorSpec;
import org.pytorch.executorch.DType;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/**
 * ExecuTorch (.pte, XNNPACK-delegated by the exporter) behind the benchmark loop's Backend. The input
 * Tensor is built once over the core's direct buffer (not copied: ExecuTorch reads the buffer on each
 * forward) with the logical NCHW sizes ({@link TensorSpec#nchwSizes}: a channels-last program reads the
 * same buffer as NHWC) and the manifest's dtype: FloatBuffer for float32, ShortBuffer for float16, ByteBuffer for
 * int8, fromBlobUnsigned for uint8. ExecuTorch's Java API does not expose a method's input types, so
 * a dtype the program does not take is refused by the runtime on the first forward ("Input 0 has
 * unexpected scalar type"). Module.forward allocates its result EValues inside the runtime; nothing
 * else is allocated per run. The version is the AAR pin (ExecuTorch has no version API): "declared".
 */
final class ExecuTorchBackend implements Backend {
  private Module module;
  private EValue inputValue;
  private EValue[] last;
  private TensorSpec outSpec;
  private ByteBuffer outBytes;

  @Override
  public String name() {
    return "executorch";
  }

  @Override
  public String version() {
    return Versions.EXECUTORCH;
  }

  @Override
  public String versionSource() {
    return "declared";
  }

  @Override
  public String delegate() {
    return "xnnpack"; // chosen at export time; the .pte carries the delegated graph
  }

  @Override
  public void load(String modelPath, int threads) {
    // mmap: the file stays in the page cache instead of a second heap copy.
    module = Module.load(modelPath, Module.LOAD_MODE_MMAP, threads);
    module.loadMethod("forward");
  }

  @Override
  public void bind(ByteBuffer input, TensorSpec in, TensorSpec out) {
    ByteBuffer b = input.duplicate().order(ByteOrder.nativeOrder());
    b.rewind(); // views start at the position
    long[] sizes = in.nchwSizes(); // logical sizes; an nhwc manifest means a channels-last program, same bytes
    Tensor t;
    switch (in.dtype) {
      case "float32":
        t = Tensor.fromBlob(b.asFloatBuffer(), sizes);
        break;
      case "float16":
        t = Tensor.fromBlob(b.asShortBuffer(), sizes);
        break;
      case "int8":
        t = Tensor.fromBlob(b, sizes);
        break;
      case "uint8":
        t = Tensor.fromBlobUnsigned(b, sizes);
        break;
      default:
        throw new IllegalArgumentException("ExecuTorch input dtype " + in.dtype + " is not supported by the app");
    }
    inputValue = EValue.from(t);
    outSpec = out;
    outBytes = ByteBuffer.allocate(out.nbytes()).order(ByteOrder.nativeOrder());
  }

  @Override
  public void run() {
    last = module.forward(inputValue);
  }

  @Override
  public ByteBuffer output() {
    Tensor t = last[0].toTensor();
    DType want = dtypeOf(outSpec.dtype);
    if (t.dtype() != want || t.numel() != outSpec.numel()) {
      throw new IllegalStateException("the model's output is " + t.dtype() + " with " + t.numel()
          + " values, its manifest says " + outSpec);
    }
    outBytes.clear();
    switch (want) {
      case FLOAT:
        outBytes.asFloatBuffer().put(t.getDataAsFloatArray());
        break;
      case HALF:
        outBytes.asShortBuffer().put(t.getDataAsShortArray());
        break;
      case INT8:
        outBytes.put(t.getDataAsByteArray());
        break;
      default:
        outBytes.put(t.getDataAsUnsignedByteArray());
    }
    outBytes.rewind();
    return outBytes;
  }

  private static DType dtypeOf(String dtype) {
    switch (dtype) {
      case "float32":
        return DType.FLOAT;
      case "float16":
        return DType.HALF;
      case "int8":
        return DType.INT8;
      default:
        return DType.UINT8;
    }
  }

  @Override
  public void close() {
    if (module != null) {
      module.destroy();
      module = null;
    }
  }
}
