package io.arpo4j.trainer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads dataset files in the layouts of verl and the ARPO reference with DuckDB (in-process, no
 * server): parquet ({@code .parquet}) and JSON ({@code .json}: an array of records, or one record
 * per line). Every row becomes one JSON object (DuckDB's {@code to_json}), which the record parser
 * turns into a typed record, so nested columns (a chat {@code prompt}, the {@code reward_model}
 * struct, {@code extra_info}) arrive exactly as in the JSON form of the same data.
 */
final class Datasets {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Datasets() {}

  static <T> List<T> read(Path file, String what, JsonLines.Parser<T> parser) {
    if (file == null || !Files.isRegularFile(file))
      throw new IllegalArgumentException(what + " file not found: " + file);
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    String path = "'" + file.toAbsolutePath().toString().replace("'", "''") + "'";
    String source;
    if (name.endsWith(".parquet")) {
      source = "read_parquet(" + path + ")";
    } else if (name.endsWith(".json")) {
      source = "read_json_auto(" + path + ", maximum_object_size = 1073741824)";
    } else {
      throw new IllegalArgumentException(
          what + " file " + file + ": expected .jsonl, .json or .parquet");
    }
    List<T> out = new ArrayList<>();
    try (Connection db = DriverManager.getConnection("jdbc:duckdb:");
        Statement query = db.createStatement();
        ResultSet rows = query.executeQuery("SELECT to_json(t)::VARCHAR FROM " + source + " t")) {
      int row = 0;
      while (rows.next()) {
        row++;
        try {
          JsonNode record = JSON.readTree(rows.getString(1));
          out.add(parser.parse(record, row));
        } catch (JsonProcessingException e) {
          throw new IllegalArgumentException(
              file + ": row " + row + ": not JSON: " + e.getOriginalMessage());
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(file + ": row " + row + ": " + e.getMessage(), e);
        }
      }
    } catch (SQLException e) {
      String message =
          e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
      throw new IllegalArgumentException(
          "cannot read " + what + " file " + file + ": " + message, e);
    }
    if (out.isEmpty()) throw new IllegalArgumentException(what + " file " + file + " is empty");
    return out;
  }
}
