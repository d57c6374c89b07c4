package io.arpo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Jackson modules on the class path are of one release (the pom's jackson-bom and the
 * enforcer's dependencyConvergence keep them so): a jackson-datatype-jdk8 2.14 once sat beside
 * jackson-databind 2.21.
 */
class JacksonVersionsTest {
  private static final Pattern JACKSON_POM_PROPERTIES =
      Pattern.compile("META-INF/maven/com\\.fasterxml\\.jackson[^/]*/[^/]+/pom\\.properties");

  /** Since 2.20, jackson-annotations carries only major.minor (2.21 beside databind 2.21.3). */
  private static final String ANNOTATIONS = "jackson-annotations";

  @Test
  void jacksonModulesOnTheClassPathShareOneRelease() throws IOException {
    Map<String, String> versions = jacksonVersions(getClass().getClassLoader());
    assertTrue(versions.size() >= 3, "Jackson modules found on the class path: " + versions);
    assertEquals(List.of(), divergent(versions), "Jackson modules of another release");
  }

  @Test
  void aModuleOfAnotherReleaseIsNamed(@TempDir Path dir) throws IOException {
    Path old = jarWithPomProperties(dir, "com.fasterxml.jackson.datatype", "jackson-datatype-jdk8");
    try (URLClassLoader loader =
        new URLClassLoader(new URL[] {old.toUri().toURL()}, getClass().getClassLoader())) {
      Map<String, String> versions = jacksonVersions(loader);
      // the class path's own jackson-datatype-jdk8 is there too, and converges
      assertEquals(
          List.of("com.fasterxml.jackson.datatype:jackson-datatype-jdk8:2.14.0 (" + old + ")"),
          divergent(versions));
    }
  }

  /**
   * {@code group:artifact:version (jar)} of every Jackson module in the jars {@code loader} sees,
   * mapped to its version. Every jar has a manifest, so the manifests enumerate the jars.
   */
  static Map<String, String> jacksonVersions(ClassLoader loader) throws IOException {
    Map<String, String> versions = new TreeMap<>();
    for (URL manifest : Collections.list(loader.getResources(JarFile.MANIFEST_NAME))) {
      String url = manifest.toString();
      if (!url.startsWith("jar:file:")) continue; // a class directory, no dependency
      Path jarPath = Path.of(URI.create(url.substring("jar:".length(), url.indexOf("!/"))));
      try (JarFile jar = new JarFile(jarPath.toFile())) {
        for (JarEntry entry : Collections.list(jar.entries())) {
          if (!JACKSON_POM_PROPERTIES.matcher(entry.getName()).matches()) continue;
          Properties pom = new Properties();
          try (InputStream in = jar.getInputStream(entry)) {
            pom.load(in);
          }
          String version = pom.getProperty("version");
          versions.put(
              pom.getProperty("groupId")
                  + ":"
                  + pom.getProperty("artifactId")
                  + ":"
                  + version
                  + " ("
                  + jarPath
                  + ")",
              version);
        }
      }
    }
    return versions;
  }

  /**
   * The modules whose version is not jackson-databind's (jackson-annotations: not its major.minor
   * either).
   */
  static List<String> divergent(Map<String, String> versions) {
    String databind =
        versions.entrySet().stream()
            .filter(e -> e.getKey().startsWith("com.fasterxml.jackson.core:jackson-databind:"))
            .map(Map.Entry::getValue)
            .findFirst()
            .orElseThrow(() -> new AssertionError("no jackson-databind in " + versions.keySet()));
    String minor = databind.replaceFirst("^(\\d+\\.\\d+).*", "$1");
    List<String> divergent = new ArrayList<>();
    versions.forEach(
        (module, version) -> {
          boolean annotations = module.contains(":" + ANNOTATIONS + ":");
          if (!version.equals(databind) && !(annotations && version.equals(minor))) {
            divergent.add(module);
          }
        });
    return divergent;
  }

  /** A jar holding only the pom.properties of {@code group:artifact:2.14.0}. */
  private static Path jarWithPomProperties(Path dir, String group, String artifact)
      throws IOException {
    Path jar = dir.resolve(artifact + "-2.14.0.jar");
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().putValue("Manifest-Version", "1.0");
    try (OutputStream file = Files.newOutputStream(jar);
        JarOutputStream out = new JarOutputStream(file, manifest)) {
      out.putNextEntry(
          new JarEntry("META-INF/maven/" + group + "/" + artifact + "/pom.properties"));
      out.write(
          ("groupId=" + group + "\nartifactId=" + artifact + "\nversion=2.14.0\n")
              .getBytes(StandardCharsets.ISO_8859_1));
      out.closeEntry();
    }
    return jar;
  }
}
