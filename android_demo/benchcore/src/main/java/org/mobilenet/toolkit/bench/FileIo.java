package org.mobilenet.toolkit.bench;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** The few file operations the core needs: read text, write atomically, hash. */
public final class FileIo {
  private FileIo() {}

  public static String readText(File f) throws IOException {
    return readText(new FileInputStream(f));
  }

  public static String readText(InputStream in) throws IOException {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      int n;
      while ((n = in.read(buf)) > 0) {
        out.write(buf, 0, n);
      }
      return new String(out.toByteArray(), StandardCharsets.UTF_8);
    } finally {
      in.close();
    }
  }

  /** Temp file, then rename, so the toolkit never pulls half a JSON. */
  public static void writeAtomic(File dest, String text) throws IOException {
    File parent = dest.getParentFile();
    if (parent != null && !parent.isDirectory() && !parent.mkdirs()) {
      throw new IOException("cannot create " + parent);
    }
    File tmp = new File(dest.getPath() + ".tmp");
    OutputStream out = new FileOutputStream(tmp);
    try {
      out.write(text.getBytes(StandardCharsets.UTF_8));
    } finally {
      out.close();
    }
    if (!tmp.renameTo(dest)) {
      throw new IOException("cannot write " + dest);
    }
  }

  public static String sha256(File f) throws IOException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IOException("no SHA-256 on this platform", e);
    }
    InputStream in = new FileInputStream(f);
    try {
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    } finally {
      in.close();
    }
    StringBuilder sb = new StringBuilder();
    for (byte b : md.digest()) {
      sb.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
    }
    return sb.toString();
  }
}
