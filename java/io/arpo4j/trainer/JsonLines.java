package io.arpo4j.trainer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads a JSONL data file into records; every error names the file and line. */
final class JsonLines {
  private static final ObjectMapper JSON = new ObjectMapper();

  interface Parser<T> {
    /** Throws IllegalArgumentException with a message when the line is not a valid record. */
    T parse(JsonNode line, int lineNo);
  }

  private JsonLines() {}

  static <T> List<T> read(Path file, String what, Parser<T> parser) throws IOException {
    if (file == null || !Files.isRegularFile(file))
      throw new IllegalArgumentException(what + " file not found: " + file);
    List<T> out = new ArrayList<>();
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
      CharsetDecoder utf8 =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT);
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      int lineNo = 0;
      boolean more = true;
      while (more) {
        bytes.reset();
        int b;
        while ((b = in.read()) != -1 && b != '\n') bytes.write(b);
        more = b != -1;
        if (!more && bytes.size() == 0) break;
        lineNo++;
        String line;
        try {
          line = utf8.decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
          throw new IllegalArgumentException(file + ":" + lineNo + ": not UTF-8 text");
        }
        if (line.isBlank()) continue;
        try {
          out.add(parser.parse(JSON.readTree(line), lineNo));
        } catch (JsonProcessingException e) {
          throw new IllegalArgumentException(
              file + ":" + lineNo + ": not JSON: " + e.getOriginalMessage());
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(file + ":" + lineNo + ": " + e.getMessage(), e);
        }
      }
    }
    if (out.isEmpty()) throw new IllegalArgumentException(what + " file " + file + " is empty");
    return out;
  }
}
