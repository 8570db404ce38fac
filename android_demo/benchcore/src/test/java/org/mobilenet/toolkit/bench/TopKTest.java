package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class TopKTest {
  @Test
  void softmaxSumsToOneAndKeepsOrder() {
    double[] p = TopK.softmax(new float[] {1000f, 1001f, 999f});
    assertEquals(1.0, p[0] + p[1] + p[2], 1e-12);
    assertTrue(p[1] > p[0] && p[0] > p[2]);
  }

  @Test
  void topKPicksLargestFirstWithStableTies() {
    double[] s = {0.1, 0.5, 0.2, 0.5, 0.05, 0.9};
    assertArrayEquals(new int[] {5, 1, 3}, TopK.topK(s, 3));
    assertArrayEquals(new int[] {5, 1, 3, 2, 0, 4}, TopK.topK(s, 10));
  }

  @Test
  void topKOnLongVectorMatchesFullSort() {
    double[] s = new double[1000];
    for (int i = 0; i < s.length; i++) {
      s[i] = Math.sin(i * 12.9898) * 43758.5453 % 1.0;
    }
    int[] top = TopK.topK(s, 5);
    for (int r = 1; r < top.length; r++) {
      assertTrue(s[top[r - 1]] >= s[top[r]]);
    }
    int larger = 0;
    for (double v : s) {
      if (v > s[top[4]]) {
        larger++;
      }
    }
    assertEquals(4, larger);
  }
}
