package io.arpo4j.cli;

import io.arpo4j.tools.search.SearchIndex;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arpo4j index}: builds the local BM25 search index from a JSONL corpus. */
@Command(
    name = "index",
    mixinStandardHelpOptions = true,
    description =
        "Build a BM25 search index from a JSONL corpus ({\"id\",\"title\",\"text\"} per line).")
public final class IndexCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = "--corpus", required = true, description = "The corpus, one JSON object a line.")
  Path corpus;

  @Option(names = "--out", required = true, description = "Index directory (replaced if present).")
  Path out;

  @Override
  public Integer call() throws Exception {
    PrintWriter console = spec.commandLine().getOut();
    console.printf(Locale.ROOT, "indexing %s into %s%n", corpus, out);
    console.flush();
    // a missing file or a malformed line fails with a message naming it (exit code 2, see Main)
    SearchIndex.BuildStats stats =
        SearchIndex.build(
            corpus,
            out,
            count -> {
              console.printf(Locale.ROOT, "  %,d documents%n", count);
              console.flush();
            });
    console.printf(
        Locale.ROOT,
        "indexed %,d documents in %.1f s%n",
        stats.documents(),
        stats.elapsed().toMillis() / 1000.0);
    console.flush();
    return 0;
  }
}
