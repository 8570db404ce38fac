package org.mobilenet.toolkit.fakephone;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tensorflow.lite.Interpreter;

/**
 * Calls the fake runtimes the way the app never does, to prove they refuse what the real ones refuse
 * (tests/test_android_phone_matrix.py). Prints the exception as "SimpleName: message", or "ran".
 *
 * <pre>litert-bytes MODEL.tflite NBYTES   -> run with an input buffer of NBYTES bytes</pre>
 */
public final class StrictnessProbe {
  private StrictnessProbe() {}

  public static void main(String[] a) {
    if (!a[0].equals("litert-bytes")) {
      throw new IllegalArgumentException("unknown probe " + a[0]);
    }
    Interpreter interpreter = new Interpreter(new File(a[1]), new Interpreter.Options());
    try {
      ByteBuffer in = ByteBuffer.allocateDirect(Integer.parseInt(a[2])).order(ByteOrder.nativeOrder());
      ByteBuffer out = ByteBuffer.allocateDirect(interpreter.getOutputTensor(0).numBytes()).order(ByteOrder.nativeOrder());
      interpreter.run(in, out);
      System.out.println("ran");
    } catch (RuntimeException e) {
      System.out.println(e.getClass().getSimpleName() + ": " + e.getMessage());
    } finally {
      interpreter.close();
    }
  }
}
