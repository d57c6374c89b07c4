package io.arpo4j.cli;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.arpo4j.model.DefaultModel;
import io.arpo4j.model.PolicyModel;
import io.arpo4j.model.RuntimeOptions;
import io.arpo4j.model.TransformerModel;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code arpo4j logits --model DIR --ids 1,2,3}: the logits of one forward pass as JSON, {@code
 * {"logits": [[...], ...]}} (positions x vocabulary), for comparing with other implementations.
 * Needs only config.json and the weights (no tokenizer).
 */
@Command(
    name = "logits",
    mixinStandardHelpOptions = true,
    description =
        "Print the logits of one forward pass over token ids as JSON {\"logits\": [[...], ...]}.")
public final class LogitsCommand implements Callable<Integer> {

  @Option(
      names = "--model",
      required = true,
      description =
          "HF model directory (config.json + safetensors), or 'default' for the embedded model")
  String model;

  @Option(names = "--ids", required = true, split = ",", description = "comma-separated token ids")
  int[] ids;

  @Option(
      names = "--device",
      defaultValue = "cpu",
      description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE})")
  String device;

  @Override
  public Integer call() throws Exception {
    RuntimeOptions runtime = RuntimeOptions.parse(device);
    try (TransformerModel m =
        PolicyModel.DEFAULT_NAME.equals(model)
            ? TransformerModel.randomInit(DefaultModel.config(), DefaultModel.SEED, runtime)
            : TransformerModel.load(Path.of(model), runtime)) {
      int vocab = m.config().vocabSize();
      if (ids.length > m.config().maxPositionEmbeddings()) {
        throw new IllegalArgumentException(
            "--ids: "
                + ids.length
                + " ids, more than the model's max_position_embeddings "
                + m.config().maxPositionEmbeddings());
      }
      for (int id : ids) {
        if (id < 0 || id >= vocab) {
          throw new IllegalArgumentException(
              "--ids: " + id + " is outside the vocabulary [0, " + vocab + ")");
        }
      }
      float[] values;
      try (Tensor input = m.ids(ids);
          Tensor logits = m.logits(input);
          Tensor host = logits.to(new Device("cpu"), torch.ScalarType.Float).contiguous()) {
        values = new float[(int) host.numel()];
        new FloatPointer(host.data_ptr()).get(values);
      }
      try (JsonGenerator json = new JsonFactory().createGenerator(System.out, JsonEncoding.UTF8)) {
        json.configure(JsonGenerator.Feature.AUTO_CLOSE_TARGET, false);
        json.writeStartObject();
        json.writeArrayFieldStart("logits");
        for (int p = 0; p < ids.length; p++) {
          json.writeStartArray();
          for (int v = 0; v < vocab; v++) {
            json.writeNumber(values[p * vocab + v]);
          }
          json.writeEndArray();
        }
        json.writeEndArray();
        json.writeEndObject();
      }
      System.out.println();
      return 0;
    }
  }
}
