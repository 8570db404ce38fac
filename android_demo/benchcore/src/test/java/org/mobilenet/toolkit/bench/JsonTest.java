package org.mobilenet.toolkit.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
  @Test
  @SuppressWarnings("unchecked")
  void roundTripsNestedValues() {
    Map<String, Object> m = new LinkedHashMap<String, Object>();
    m.put("s", "a \"quoted\"\nline\\");
    m.put("d", Double.valueOf(0.1 + 0.2));
    m.put("i", Long.valueOf(-42));
    m.put("b", Boolean.TRUE);
    m.put("n", null);
    m.put("l", Arrays.<Object>asList(Long.valueOf(1), "x", Double.valueOf(1e-7)));
    Map<String, Object> back = (Map<String, Object>) Json.parse(Json.write(m));
    assertEquals(m, back);
    assertEquals(0.30000000000000004, (Double) back.get("d"), 0.0);
  }

  @Test
  void writesDoubleArraysAndNonFiniteAsNull() {
    String s = Json.write(new double[] {1.5, Double.NaN});
    List<?> back = (List<?>) Json.parse(s);
    assertEquals(1.5, (Double) back.get(0), 0.0);
    assertNull(back.get(1));
  }

  @Test
  void parsesUnicodeEscapes() {
    assertEquals("é°", Json.parse("\"\\u00e9\\u00b0\""));
  }

  @Test
  void rejectsMalformedInput() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": [1, 2}"));
    assertTrue(e.getMessage().contains("offset"));
    assertThrows(IllegalArgumentException.class, () -> Json.parse("{} x"));
  }
}
