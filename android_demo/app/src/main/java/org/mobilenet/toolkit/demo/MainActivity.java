package org.mobilenet.toolkit.demo;

import android.app.Activity;
import android.content.Intent;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.net.Uri;
import android.os.Bundle;
import android.provider.MediaStore;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.LinearLayout;
import android.widget.ScrollView;
import android.widget.Spinner;
import android.widget.TextView;
import java.io.InputStream;
import java.util.List;
import java.util.Locale;
import java.nio.ByteBuffer;
import org.mobilenet.toolkit.bench.Backend;
import org.mobilenet.toolkit.bench.BenchmarkLoop;
import org.mobilenet.toolkit.bench.HeadlessBenchmark;
import org.mobilenet.toolkit.bench.ModelManifest;
import org.mobilenet.toolkit.bench.Stats;
import org.mobilenet.toolkit.bench.TensorCodec;
import org.mobilenet.toolkit.bench.TopK;

/**
 * The interactive demo: choose a model (bundled or pushed by the toolkit), pick a gallery photo or
 * take one with the camera app, and see the top-5 labels and the latency. The UI is built in code
 * so the app needs no layout resources.
 */
public class MainActivity extends Activity {
  private static final int PICK_IMAGE = 1;
  private static final int TAKE_PHOTO = 2;
  private static final int RUNS = 10;

  private List<Models.Entry> models;
  private Spinner modelPicker;
  private Spinner delegatePicker;
  private ImageView preview;
  private TextView output;

  @Override
  protected void onCreate(Bundle savedInstanceState) {
    super.onCreate(savedInstanceState);
    LinearLayout root = new LinearLayout(this);
    root.setOrientation(LinearLayout.VERTICAL);
    root.setPadding(32, 32, 32, 32);
    models = Models.list(this);
    modelPicker = new Spinner(this);
    modelPicker.setAdapter(new ArrayAdapter<Models.Entry>(this, android.R.layout.simple_spinner_item, models));
    root.addView(modelPicker);
    delegatePicker = new Spinner(this);
    delegatePicker.setAdapter(new ArrayAdapter<String>(this, android.R.layout.simple_spinner_item,
        new String[] {"xnnpack", "gpu", "nnapi", "cpu"}));
    root.addView(delegatePicker);
    LinearLayout buttons = new LinearLayout(this);
    buttons.addView(button("Gallery", new Intent(Intent.ACTION_GET_CONTENT).setType("image/*"), PICK_IMAGE));
    buttons.addView(button("Camera", new Intent(MediaStore.ACTION_IMAGE_CAPTURE), TAKE_PHOTO));
    root.addView(buttons);
    preview = new ImageView(this);
    preview.setAdjustViewBounds(true);
    preview.setMaxHeight(720);
    root.addView(preview);
    output = new TextView(this);
    output.setTextSize(16f);
    root.addView(output);
    ScrollView scroll = new ScrollView(this);
    scroll.addView(root);
    setContentView(scroll);
    output.setText(models.isEmpty()
        ? "No models. Bundle one in assets/models/ or run `toolkit profile ARTIFACT --device android`."
        : models.size() + " model(s). Pick a photo.");
    modelPicker.setOnItemSelectedListener(
        new AdapterView.OnItemSelectedListener() {
          @Override
          public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
            output.setText(describe(models.get(position)));
          }

          @Override
          public void onNothingSelected(AdapterView<?> parent) {}
        });
  }

  private Button button(String label, final Intent intent, final int request) {
    Button b = new Button(this);
    b.setText(label);
    b.setOnClickListener(
        new View.OnClickListener() {
          @Override
          public void onClick(View v) {
            startActivityForResult(intent, request);
          }
        });
    return b;
  }

  private static String describe(Models.Entry e) {
    return String.format(Locale.US, "%s\n%s, input %dx%d %s", e.file.getName(), e.manifest.precision,
        e.manifest.resolution, e.manifest.resolution, e.manifest.layout);
  }

  @Override
  protected void onActivityResult(int requestCode, int resultCode, Intent data) {
    if (resultCode != RESULT_OK || data == null || models.isEmpty()) {
      return;
    }
    Bitmap bmp = null;
    try {
      if (requestCode == TAKE_PHOTO) {
        bmp = (Bitmap) data.getExtras().get("data"); // the camera app's thumbnail
      } else {
        Uri uri = data.getData();
        InputStream in = getContentResolver().openInputStream(uri);
        try {
          bmp = BitmapFactory.decodeStream(in);
        } finally {
          in.close();
        }
      }
    } catch (Exception e) {
      output.setText("Cannot read the photo: " + e.getMessage());
      return;
    }
    if (bmp == null) {
      output.setText("Cannot decode the photo.");
      return;
    }
    preview.setImageBitmap(bmp);
    output.setText("Running…");
    classify(bmp.copy(Bitmap.Config.ARGB_8888, false), models.get(modelPicker.getSelectedItemPosition()),
        (String) delegatePicker.getSelectedItem());
  }

  private void classify(final Bitmap bmp, final Models.Entry entry, final String delegate) {
    new Thread(
            new Runnable() {
              @Override
              public void run() {
                final String text = classifyNow(bmp, entry, delegate);
                runOnUiThread(
                    new Runnable() {
                      @Override
                      public void run() {
                        output.setText(text);
                      }
                    });
              }
            },
            "classify")
        .start();
  }

  private String classifyNow(Bitmap bmp, Models.Entry entry, String delegate) {
    int w = bmp.getWidth();
    int h = bmp.getHeight();
    int[] px = new int[w * h];
    bmp.getPixels(px, 0, w, 0, 0, w, h);
    Backend backend = null;
    try {
      ModelManifest mf = entry.manifest;
      ByteBuffer input = TensorCodec.encodePhoto(mf, px, w, h); // the manifest's dtype and layout
      backend = Models.backendFor(entry, delegate);
      BenchmarkLoop.Config cfg = new BenchmarkLoop.Config();
      cfg.warmup = 2;
      cfg.iterations = RUNS;
      BenchmarkLoop.Result r = BenchmarkLoop.run(backend, entry.file.getPath(), input, mf.inputSpec, mf.outputSpec,
          cfg, BenchmarkLoop.SYSTEM);
      float[] scores = TensorCodec.decode(r.firstOutput, mf.outputSpec);
      HeadlessBenchmark.checkOutput(scores, mf);
      double[] probs = "probabilities".equals(mf.outputKind) ? toDoubles(scores) : TopK.softmax(scores);
      List<String> labels = Models.labels(entry);
      StringBuilder sb = new StringBuilder();
      for (int i : TopK.topK(probs, 5)) {
        String label = i < labels.size() ? labels.get(i) : "class " + i;
        sb.append(String.format(Locale.US, "%5.1f%%  %s\n", probs[i] * 100, label));
      }
      Stats.Summary s = Stats.summarize(r.latenciesMs);
      sb.append(String.format(Locale.US, "\n%s/%s: median %.2f ms (p90 %.2f) over %d runs\nload %.1f ms, first %.1f ms",
          backend.name(), backend.delegate(), s.medianMs, s.p90Ms, s.n, r.loadMs, r.firstInferenceMs));
      return sb.toString();
    } catch (BenchmarkLoop.StageException e) {
      return "The runtime rejected the model (" + e.stage + "): " + e.getCause().getMessage();
    } catch (Throwable t) {
      return "Cannot run the model: " + t.getMessage();
    } finally {
      if (backend != null) {
        backend.close();
      }
    }
  }

  private static double[] toDoubles(float[] v) {
    double[] d = new double[v.length];
    for (int i = 0; i < v.length; i++) {
      d[i] = v[i];
    }
    return d;
  }
}
