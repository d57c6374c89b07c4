package io.arpo4j.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.arpo4j.tools.TrajectoryFormat;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/** JSONL files of demo questions, one JSON object per line. */
public final class DemoFiles {
  private static final ObjectMapper JSON = new ObjectMapper();

  private DemoFiles() {}

  /**
   * SFT data: one {@code {"id","prompt","response","result_spans"}} object per question, where
   * {@code response} is the demonstrator's trace ({@link DemoQuestion#demonstration}) and {@code
   * result_spans} lists {@code [start, end)} char offsets into {@code response} of the tool-result
   * inserts (the {@code " <result>\n...\n</result>"} texts, {@link TrajectoryFormat#resultSpans})
   * to mask out of the loss. Spans are given so the trainer need not parse tags; they are exactly
   * what {@link TrajectoryFormat#resultSpans} finds in the response.
   */
  public static void writeSft(Path file, List<DemoQuestion> questions) throws IOException {
    write(
        file,
        questions,
        q -> {
          Map<String, Object> line = new LinkedHashMap<>();
          line.put("id", q.id());
          line.put("prompt", DemoTask.prompt(q.question()));
          line.put("response", q.demonstration());
          line.put(
              "result_spans",
              TrajectoryFormat.resultSpans(q.demonstration()).stream()
                  .map(s -> List.of(s.start(), s.end()))
                  .toList());
          return line;
        });
  }

  /**
   * Questions for RL and evaluation: one {@code {"id","kind","prompt","question","answers"}} object
   * per question ({@code kind} is the {@link DemoQuestion.Kind} name).
   */
  public static void writeQuestions(Path file, List<DemoQuestion> questions) throws IOException {
    write(
        file,
        questions,
        q -> {
          Map<String, Object> line = new LinkedHashMap<>();
          line.put("id", q.id());
          line.put("kind", q.kind().name());
          line.put("prompt", DemoTask.prompt(q.question()));
          line.put("question", q.question());
          line.put("answers", q.answers());
          return line;
        });
  }

  private static void write(
      Path file, List<DemoQuestion> questions, Function<DemoQuestion, Map<String, Object>> toLine)
      throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
      for (DemoQuestion q : questions) {
        out.write(JSON.writeValueAsString(toLine.apply(q)));
        out.write('\n');
      }
    }
  }
}
