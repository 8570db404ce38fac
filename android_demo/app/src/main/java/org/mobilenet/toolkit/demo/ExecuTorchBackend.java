package org.mobilenet.toolkit.demo;

import org.mobilenet.toolkit.bench.Backend;
import org.pytorch.executorch.EValue;
import org.pytorch.executorch.Module;
import org.pytorch.executorch.Tensor;

/** ExecuTorch (.pte, XNNPACK-delegated by the exporter) behind the benchmark loop's Backend. */
final class ExecuTorchBackend implements Backend {
  private Module module;

  @Override
  public String name() {
    return "executorch";
  }

  @Override
  public String version() {
    return Versions.EXECUTORCH;
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
  public float[] run(float[] input, long[] shape) {
    EValue[] out = module.forward(EValue.from(Tensor.fromBlob(input, shape)));
    return out[0].toTensor().getDataAsFloatArray();
  }

  @Override
  public void close() {
    if (module != null) {
      module.destroy();
      module = null;
    }
  }
}
