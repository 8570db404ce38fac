package org.mobilenet.toolkit.bench;

/**
 * IEEE 754 binary16 conversions (Java 8 and Android API 23 have none): float to half rounds to
 * nearest, ties to even, as numpy's {@code astype(float16)} does (subnormals kept, overflow to
 * infinity, NaN stays NaN); half to float is exact.
 */
public final class Half {
  private Half() {}

  public static short fromFloat(float f) {
    int bits = Float.floatToRawIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = (bits >>> 23) & 0xFF;
    int mant = bits & 0x7FFFFF;
    if (exp == 0xFF) { // inf or NaN (keep a quiet NaN bit)
      return (short) (sign | 0x7C00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
    }
    int e = exp - 127 + 15; // half exponent
    if (e >= 0x1F) {
      return (short) (sign | 0x7C00); // too large: infinity
    }
    if (e <= 0) { // subnormal half (or zero)
      if (e < -10) {
        return (short) sign; // below half the smallest subnormal: ±0
      }
      int m = mant | 0x800000; // implicit leading 1
      int shift = 14 - e; // 24-bit significand to a 10-bit subnormal field
      int half = m >>> shift;
      int rem = m & ((1 << shift) - 1);
      int mid = 1 << (shift - 1);
      if (rem > mid || (rem == mid && (half & 1) != 0)) {
        half++;
      }
      return (short) (sign | half);
    }
    int half = (e << 10) | (mant >>> 13);
    int rem = mant & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
      half++; // may carry into the exponent, up to infinity: still correct
    }
    return (short) (sign | half);
  }

  public static float toFloat(short h) {
    int bits = h & 0xFFFF;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1F;
    int mant = bits & 0x3FF;
    if (exp == 0x1F) {
      return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
    }
    if (exp == 0) {
      float v = mant * (1.0f / (1 << 24)); // exact: subnormal half = mant * 2^-24
      return sign != 0 ? -v : v;
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
  }
}
