/*
 * FAKE for the JVM fake phone: one interpreter tensor as the host runtime reports it (LiteRT's
 * TensorImpl.java plays this part on a phone). Package-private: not part of the mirrored API.
 */
package org.tensorflow.lite;

import java.util.List;
import java.util.Map;

final class FakeTensor implements Tensor {
  final String hostDtype;
  private final int[] shape;
  private final String name;
  private final QuantizationParams quantization;

  @SuppressWarnings("unchecked")
  FakeTensor(Map<String, Object> spec) {
    hostDtype = (String) spec.get("dtype");
    List<Object> s = (List<Object>) spec.get("shape");
    shape = new int[s.size()];
    for (int i = 0; i < shape.length; i++) {
      shape[i] = ((Long) s.get(i)).intValue();
    }
    name = (String) spec.get("name");
    Object scale = spec.get("scale");
    Object zp = spec.get("zero_point");
    // LiteRT reports (0.0, 0) for a tensor without quantization
    quantization = new QuantizationParams(scale instanceof Number ? ((Number) scale).floatValue() : 0f,
        zp instanceof Number ? ((Number) zp).intValue() : 0);
  }

  @Override
  public DataType dataType() {
    DataType t = DataType.fromHost(hostDtype);
    if (t == null) {
      throw new IllegalArgumentException("DataType error: DataType " + hostDtype + " is not recognized in Java");
    }
    return t;
  }

  @Override
  public int numBytes() {
    return numElements() * dataType().byteSize();
  }

  @Override
  public int numElements() {
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public QuantizationParams quantizationParams() {
    return quantization;
  }
}
