package io.arpo4j.testing;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The start of a command line for a child JVM of a test, on the test's class path. */
public final class ChildJvm {
  private static final String JAVACPP_CACHE = "org.bytedeco.javacpp.cachedir";

  private ChildJvm() {}

  /**
   * {@code java <options>} with this JVM's JavaCPP cache directory passed on, so that a suite run
   * on an empty cache ({@code -Dtest.javacpp.cachedir=...}, as {@code .ci/run} does) runs its
   * children on it too; the class path and main class are the caller's to add.
   */
  public static List<String> java(String... options) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    String cache = System.getProperty(JAVACPP_CACHE);
    if (cache != null) cmd.add("-D" + JAVACPP_CACHE + "=" + cache);
    cmd.addAll(List.of(options));
    return cmd;
  }
}
