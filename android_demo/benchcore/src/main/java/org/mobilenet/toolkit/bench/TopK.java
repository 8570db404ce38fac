package org.mobilenet.toolkit.bench;

/** Softmax and top-k over a logits vector, for the demo screen's top-5 list. */
public final class TopK {
  private TopK() {}

  /** Numerically stable softmax (max subtracted), in double for the probabilities shown. */
  public static double[] softmax(float[] logits) {
    double max = Double.NEGATIVE_INFINITY;
    for (float v : logits) {
      max = Math.max(max, v);
    }
    double[] p = new double[logits.length];
    double sum = 0.0;
    for (int i = 0; i < logits.length; i++) {
      p[i] = Math.exp(logits[i] - max);
      sum += p[i];
    }
    for (int i = 0; i < p.length; i++) {
      p[i] /= sum;
    }
    return p;
  }

  /** Indices of the k largest scores, largest first; ties keep the lower index first. */
  public static int[] topK(double[] scores, int k) {
    int m = Math.min(k, scores.length);
    int[] best = new int[m];
    int filled = 0;
    for (int i = 0; i < scores.length; i++) {
      int pos = filled;
      while (pos > 0 && scores[best[pos - 1]] < scores[i]) {
        pos--;
      }
      if (pos >= m) {
        continue;
      }
      int last = Math.min(filled, m - 1);
      for (int j = last; j > pos; j--) {
        best[j] = best[j - 1];
      }
      best[pos] = i;
      filled = Math.min(filled + 1, m);
    }
    return best;
  }
}
