package org.mobilenet.toolkit.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small JSON reader and writer, so the core has no Android dependency (org.json lives in
 * android.jar only) and runs in plain JVM unit tests.
 *
 * <p>Objects parse to {@code LinkedHashMap<String, Object>}, arrays to {@code List<Object>},
 * integers to {@code Long}, other numbers to {@code Double}. Doubles are written with
 * {@link Double#toString}, which round-trips exactly, so Python reads back the same bits.
 */
public final class Json {
  private final String text;
  private int pos;

  private Json(String text) {
    this.text = text;
  }

  /** Parses one JSON value; throws IllegalArgumentException with the offset on bad input. */
  public static Object parse(String text) {
    Json p = new Json(text);
    p.skipWs();
    Object value = p.value();
    p.skipWs();
    if (p.pos != text.length()) {
      throw p.error("trailing characters");
    }
    return value;
  }

  /** Serializes maps, lists, strings, numbers, booleans and null, indented by two spaces. */
  public static String write(Object value) {
    StringBuilder sb = new StringBuilder();
    write(value, sb, 0);
    sb.append('\n');
    return sb.toString();
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException("bad JSON at offset " + pos + ": " + what);
  }

  private void skipWs() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        return;
      }
      pos++;
    }
  }

  private Object value() {
    if (pos >= text.length()) {
      throw error("unexpected end");
    }
    char c = text.charAt(pos);
    if (c == '{') {
      return object();
    } else if (c == '[') {
      return array();
    } else if (c == '"') {
      return string();
    } else if (text.startsWith("true", pos)) {
      pos += 4;
      return Boolean.TRUE;
    } else if (text.startsWith("false", pos)) {
      pos += 5;
      return Boolean.FALSE;
    } else if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    return number();
  }

  private Map<String, Object> object() {
    Map<String, Object> map = new LinkedHashMap<String, Object>();
    pos++;
    skipWs();
    if (peek() == '}') {
      pos++;
      return map;
    }
    while (true) {
      skipWs();
      if (peek() != '"') {
        throw error("expected a key");
      }
      String key = string();
      skipWs();
      expect(':');
      skipWs();
      map.put(key, value());
      skipWs();
      char c = next();
      if (c == '}') {
        return map;
      }
      if (c != ',') {
        throw error("expected , or }");
      }
    }
  }

  private List<Object> array() {
    List<Object> list = new ArrayList<Object>();
    pos++;
    skipWs();
    if (peek() == ']') {
      pos++;
      return list;
    }
    while (true) {
      skipWs();
      list.add(value());
      skipWs();
      char c = next();
      if (c == ']') {
        return list;
      }
      if (c != ',') {
        throw error("expected , or ]");
      }
    }
  }

  private String string() {
    expect('"');
    StringBuilder sb = new StringBuilder();
    while (true) {
      char c = next();
      if (c == '"') {
        return sb.toString();
      }
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      char e = next();
      switch (e) {
        case 'n': sb.append('\n'); break;
        case 't': sb.append('\t'); break;
        case 'r': sb.append('\r'); break;
        case 'b': sb.append('\b'); break;
        case 'f': sb.append('\f'); break;
        case 'u':
          if (pos + 4 > text.length()) {
            throw error("short \\u escape");
          }
          sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
          pos += 4;
          break;
        default: sb.append(e);
      }
    }
  }

  private Object number() {
    int start = pos;
    boolean integral = true;
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c == '.' || c == 'e' || c == 'E') {
        integral = false;
      } else if (!(c == '-' || c == '+' || (c >= '0' && c <= '9'))) {
        break;
      }
      pos++;
    }
    String s = text.substring(start, pos);
    if (s.isEmpty()) {
      throw error("unexpected character '" + text.charAt(pos) + "'");
    }
    try {
      return integral ? (Object) Long.valueOf(s) : (Object) Double.valueOf(s);
    } catch (NumberFormatException ex) {
      throw error("bad number " + s);
    }
  }

  private char peek() {
    if (pos >= text.length()) {
      throw error("unexpected end");
    }
    return text.charAt(pos);
  }

  private char next() {
    char c = peek();
    pos++;
    return c;
  }

  private void expect(char c) {
    if (next() != c) {
      pos--;
      throw error("expected '" + c + "'");
    }
  }

  @SuppressWarnings("unchecked")
  private static void write(Object v, StringBuilder sb, int indent) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof String) {
      quote((String) v, sb);
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      sb.append(Double.isNaN(d) || Double.isInfinite(d) ? "null" : Double.toString(d));
    } else if (v instanceof Number || v instanceof Boolean) {
      sb.append(v.toString());
    } else if (v instanceof Map) {
      Map<String, Object> map = (Map<String, Object>) v;
      if (map.isEmpty()) {
        sb.append("{}");
        return;
      }
      sb.append("{\n");
      int i = 0;
      for (Map.Entry<String, Object> e : map.entrySet()) {
        pad(sb, indent + 2);
        quote(e.getKey(), sb);
        sb.append(": ");
        write(e.getValue(), sb, indent + 2);
        sb.append(++i < map.size() ? ",\n" : "\n");
      }
      pad(sb, indent);
      sb.append('}');
    } else if (v instanceof List) {
      writeList((List<Object>) v, sb, indent);
    } else if (v instanceof double[]) {
      double[] a = (double[]) v;
      List<Object> list = new ArrayList<Object>(a.length);
      for (double d : a) {
        list.add(Double.valueOf(d));
      }
      writeList(list, sb, indent);
    } else {
      throw new IllegalArgumentException("cannot write " + v.getClass().getName() + " as JSON");
    }
  }

  private static void writeList(List<Object> list, StringBuilder sb, int indent) {
    sb.append('[');
    for (int i = 0; i < list.size(); i++) {
      if (i > 0) {
        sb.append(", ");
      }
      write(list.get(i), sb, indent);
    }
    sb.append(']');
  }

  private static void pad(StringBuilder sb, int n) {
    for (int i = 0; i < n; i++) {
      sb.append(' ');
    }
  }

  private static void quote(String s, StringBuilder sb) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        sb.append('\\').append(c);
      } else if (c == '\n') {
        sb.append("\\n");
      } else if (c == '\r') {
        sb.append("\\r");
      } else if (c == '\t') {
        sb.append("\\t");
      } else if (c < 0x20) {
        sb.append(String.format("\\u%04x", (int) c));
      } else {
        sb.append(c);
      }
    }
    sb.append('"');
  }
}
