package org.mobilenet.toolkit.fakephone;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.mobilenet.toolkit.bench.Json;

/**
 * The fake phone's runtime boundary: one connection per loaded model to the test session's runtime
 * bridge (tests/fake_adb/runtime_bridge.py, on the Unix socket {@code -Dfakephone.bridge.socket}),
 * which opens the artifact with the host runtime and runs exactly the bytes it is sent through the
 * runner's strict {@code run_raw}. Messages are one JSON line, then {@code nbytes} raw bytes. Only the
 * fake runtime classes (org.tensorflow.lite, org.pytorch.executorch) use it.
 */
public final class RuntimeBridge implements Closeable {
  /** A refusal from the runtime, with the message text the real runtime would give. */
  public static final class Refused extends Exception {
    private static final long serialVersionUID = 1L;
    public final String kind;

    Refused(String kind, String message) {
      super(message);
      this.kind = kind;
    }
  }

  /** One output tensor: dtype, shape, raw bytes (native order). */
  public static final class Output {
    public final String dtype;
    public final long[] shape;
    public final byte[] bytes;

    Output(String dtype, long[] shape, byte[] bytes) {
      this.dtype = dtype;
      this.shape = shape;
      this.bytes = bytes;
    }
  }

  private final SocketChannel channel;
  private final OutputStream toPython;
  private final DataInputStream fromPython;
  /** The "load" reply: input/output tensor specs as the host runtime reports them, and the version. */
  public Map<String, Object> loaded;

  private RuntimeBridge(SocketChannel channel) {
    this.channel = channel;
    this.toPython = new BufferedOutputStream(Channels.newOutputStream(channel));
    this.fromPython = new DataInputStream(new BufferedInputStream(Channels.newInputStream(channel)));
  }

  /** Connects to the bridge and loads {@code model} in {@code runtime}; Refused carries the runtime's load error. */
  public static RuntimeBridge open(String runtime, File model, int threads) throws IOException, Refused {
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    ch.connect(UnixDomainSocketAddress.of(required("fakephone.bridge.socket")));
    RuntimeBridge b = new RuntimeBridge(ch);
    Map<String, Object> load = new LinkedHashMap<String, Object>();
    load.put("op", "load");
    load.put("runtime", runtime);
    load.put("path", model.getPath());
    load.put("threads", Integer.valueOf(threads));
    try {
      b.loaded = b.call(load, null);
      return b;
    } catch (Refused | IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /** One inference on exactly these bytes, declared as {@code dtype} with {@code shape}. */
  @SuppressWarnings("unchecked")
  public Output run(String dtype, long[] shape, ByteBuffer data) throws IOException, Refused {
    ByteBuffer d = data.duplicate();
    d.rewind();
    byte[] bytes = new byte[d.remaining()];
    d.get(bytes);
    Map<String, Object> msg = new LinkedHashMap<String, Object>();
    msg.put("op", "run");
    msg.put("dtype", dtype);
    List<Object> dims = new java.util.ArrayList<Object>();
    for (long v : shape) {
      dims.add(Long.valueOf(v));
    }
    msg.put("shape", dims);
    msg.put("nbytes", Integer.valueOf(bytes.length));
    Map<String, Object> reply = call(msg, bytes);
    List<Object> s = (List<Object>) reply.get("shape");
    long[] outShape = new long[s.size()];
    for (int i = 0; i < outShape.length; i++) {
      outShape[i] = ((Long) s.get(i)).longValue();
    }
    return new Output((String) reply.get("dtype"), outShape, lastPayload);
  }

  private byte[] lastPayload;

  @SuppressWarnings("unchecked")
  private Map<String, Object> call(Map<String, Object> msg, byte[] payload) throws IOException, Refused {
    String header = Json.write(msg).replace("\n", " ").trim() + "\n";
    toPython.write(header.getBytes(StandardCharsets.UTF_8));
    if (payload != null) {
      toPython.write(payload);
    }
    toPython.flush();
    String line = readLine(fromPython);
    if (line == null) {
      throw new IOException("the runtime bridge exited (see the fake app's stderr)");
    }
    Map<String, Object> reply = (Map<String, Object>) Json.parse(line);
    Object n = reply.get("nbytes");
    lastPayload = new byte[n instanceof Long ? ((Long) n).intValue() : 0];
    fromPython.readFully(lastPayload);
    if (!Boolean.TRUE.equals(reply.get("ok"))) {
      throw new Refused(String.valueOf(reply.get("kind")), String.valueOf(reply.get("error")));
    }
    return reply;
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != -1 && c != '\n') {
      line.write(c);
    }
    return c == -1 && line.size() == 0 ? null : new String(line.toByteArray(), StandardCharsets.UTF_8);
  }

  static String required(String property) {
    String v = System.getProperty(property);
    if (v == null) {
      throw new IllegalStateException("the fake phone needs -D" + property);
    }
    return v;
  }

  @Override
  public void close() {
    try {
      Map<String, Object> msg = new LinkedHashMap<String, Object>();
      msg.put("op", "close");
      call(msg, null);
    } catch (IOException | Refused | RuntimeException ignored) {
      // the connection is closed below either way
    }
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing left to release
    }
  }
}
