package org.mobilenet.toolkit.fakephone;

/** binary16 to float for the fake ExecuTorch Tensor, written apart from the app's own Half class. */
public final class HalfBits {
  private HalfBits() {}

  public static float toFloat(short h) {
    int bits = h & 0xFFFF;
    float sign = (bits & 0x8000) != 0 ? -1f : 1f;
    int exp = (bits >> 10) & 0x1F;
    int mant = bits & 0x3FF;
    if (exp == 0x1F) {
      return mant == 0 ? sign * Float.POSITIVE_INFINITY : Float.NaN;
    }
    if (exp == 0) {
      return sign * Math.scalb((float) mant, -24);
    }
    return sign * Math.scalb(1f + mant / 1024f, exp - 15);
  }
}
