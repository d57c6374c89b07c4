package io.arpo4j.kernels;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.bytedeco.javacpp.ClassProperties;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * Loads libtorch so that the copy bundled with arpo4j (Bytedeco's {@code pytorch} platform jar) is
 * the one bound, even when the machine has another libtorch, e.g. {@code
 * /usr/lib/x86_64-linux-gnu/libtorch_cpu.so} from Debian's {@code libtorch-dev}, or a pip wheel's
 * {@code torch/lib} on {@code LD_LIBRARY_PATH}.
 *
 * <p>Why it is needed: JavaCPP loads the presets' libraries in the order {@code c10, torch,
 * torch_cpu}, each extracted into its cache only when its turn comes. {@code libtorch.so} needs
 * {@code libtorch_cpu.so}, which on a first run (empty cache) is not yet next to it, so the dynamic
 * linker takes the system's, which binds to the bundled {@code libc10.so} of another version: the
 * JVM dies in {@code torch.<clinit>}. Any directory on {@code LD_LIBRARY_PATH} wins over the bundle
 * even when the cache is full. Here the libtorch libraries are loaded in dependency order ({@code
 * c10*}, then {@code torch_cpu}, then the rest), each by the absolute path of its bundled copy, so
 * every {@code NEEDED} entry names a library already loaded and the linker searches nowhere; the
 * other preloads JavaCPP declares (OpenBLAS, libgomp) come first, as JavaCPP orders them. Then
 * JavaCPP's own load finds everything in place. Afterwards the libtorch libraries mapped into the
 * process are checked: one from anywhere but the bundle is an error naming the file.
 *
 * <p>Every arpo4j entry point ({@link Kernels}, {@code PolicyModel}, {@code Trainer}, the CLI)
 * calls {@link #load()} first. A library user who creates tensors before touching any arpo4j class
 * calls it at start-up. With {@code -Dorg.bytedeco.javacpp.pathsFirst=true} (a libtorch of your
 * own, found on the library path first) or {@code -Dorg.bytedeco.javacpp.loadLibraries=false} this
 * class does nothing: JavaCPP's rules apply as documented by Bytedeco.
 */
public final class NativeLibraries {
  /**
   * libc10, libtorch and their variants ({@code libc10_cuda.so}, {@code libtorch_cpu.so.2.6}); not
   * libjnitorch or libtorchvision.
   */
  static final Pattern TORCH_LIBRARY_FILE =
      Pattern.compile("lib(c10|torch)(_[a-z0-9]+)*\\.so(\\.[0-9.]+)?");

  private static final String TORCH_GLOBAL = "org.bytedeco.pytorch.global.torch";
  private static volatile boolean loaded;

  private NativeLibraries() {}

  /**
   * Loads the bundled libtorch (once per JVM; later calls return at once).
   *
   * @throws IllegalStateException naming the conflicting file when a libtorch from outside the
   *     bundle was, or would have to be, loaded
   */
  public static void load() {
    if (loaded) return;
    synchronized (NativeLibraries.class) {
      if (loaded) return;
      boolean physicalCheckOff = switchOffPhysicalMemoryCheck();
      applyRuntimeEnvironment();
      if (Loader.isLoadLibraries() && !pathsFirst()) {
        List<String> bundled = preloadBundled();
        loadTorch();
        List<String> stray = strayTorchLibraries(mappedFiles(), bundled);
        if (!stray.isEmpty()) {
          throw new IllegalStateException(
              "a libtorch other than arpo4j's bundled one is loaded: "
                  + stray.get(0)
                  + "; remove its directory from LD_LIBRARY_PATH or load arpo4j before anything else uses libtorch");
        }
      } else {
        loadTorch();
      }
      if (physicalCheckOff && Pointer.maxPhysicalBytes() > 0) {
        System.err.println(
            "arpo4j: warning: JavaCPP was started before arpo4j could configure it and reads the"
                + " process's memory size at every native allocation (decoding the demo model ran"
                + " 1.3-2.5x slower); start the JVM with -D"
                + MAX_PHYSICAL_BYTES
                + "=0 (README, Library: CPU threads)");
      }
      loaded = true;
    }
  }

  /**
   * The settings arpo4j runs the native runtimes with, which they read from the environment once,
   * when loaded, and offer no call to change later: libgomp's threads (libtorch's and the kernels'
   * OpenMP) sleep when idle instead of spinning, since the decode loop shares the cores with tool
   * processes and other jobs; OpenBLAS runs in the calling thread, since libtorch calls it from
   * inside its OpenMP regions (attention, batched products), where OpenBLAS's own thread pool would
   * oversubscribe the cores and print "Detect OpenMP Loop and this application may hang" per call
   * (a training step gives OpenBLAS more threads of arpo4j's own: {@link BlasThreads}); libtorch's
   * CPU allocator asks for transparent huge pages for blocks of 2 MiB and more, since a fresh
   * block's page faults (4 KiB each) took a sixth of a 512-token training step.
   */
  static final List<RuntimeSetting> RUNTIME_ENVIRONMENT =
      List.of(
          new RuntimeSetting("OMP_WAIT_POLICY", "PASSIVE", "libgomp"),
          new RuntimeSetting("OPENBLAS_NUM_THREADS", "1", "libopenblas"),
          new RuntimeSetting("THP_MEM_ALLOC_ENABLE", "1", "libc10"));

  /**
   * An environment variable, the value arpo4j sets, and the file prefix of the library it rules.
   */
  record RuntimeSetting(String variable, String value, String library) {}

  static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxPhysicalBytes";

  /**
   * Sets {@code org.bytedeco.javacpp.maxPhysicalBytes} to 0 where the user left it unset, before
   * JavaCPP reads it (once, when its {@code Pointer} class starts). Above 0, JavaCPP reads the
   * process's resident size from /proc at every native allocation it tracks (each tensor handle,
   * each size list: hundreds per decode step) to call System.gc() past that cap; arpo4j frees
   * native memory deterministically (pointer scopes), so the check only costs time: decoding the
   * demo model at batch 1 went from 2.4-2.5k to 4.1-6.3k tokens/s without it. Returns whether
   * arpo4j set it.
   */
  private static boolean switchOffPhysicalMemoryCheck() {
    if (System.getProperty(MAX_PHYSICAL_BYTES) != null
        || System.getProperty(MAX_PHYSICAL_BYTES.toLowerCase(Locale.ROOT)) != null) {
      return false;
    }
    System.setProperty(MAX_PHYSICAL_BYTES, "0");
    return true;
  }

  /**
   * Sets each {@link #RUNTIME_ENVIRONMENT} variable the user left unset, before its library is
   * loaded; a value the user set is kept. Where the library is already in the process (something
   * else loaded it first), it is too late: one line on stderr says what to set.
   */
  private static void applyRuntimeEnvironment() {
    List<String> tooLate = new ArrayList<>();
    List<String> mapped = null;
    for (RuntimeSetting setting : RUNTIME_ENVIRONMENT) {
      if (System.getenv(setting.variable()) != null) continue;
      if (mapped == null) mapped = mappedFiles();
      boolean alreadyLoaded =
          mapped.stream()
              .anyMatch(f -> Path.of(f).getFileName().toString().startsWith(setting.library()));
      if (alreadyLoaded || !setenv(setting.variable(), setting.value())) {
        tooLate.add(setting.variable() + "=" + setting.value());
      }
    }
    if (!tooLate.isEmpty()) {
      System.err.println(
          "arpo4j: warning: OpenMP/OpenBLAS were started before arpo4j could configure them; set "
              + String.join(" ", tooLate)
              + " in the environment for full speed (README, Library: CPU threads)");
    }
  }

  private static boolean setenv(String name, String value) {
    try {
      return ProcessEnvironment.setenv(name, value, 0) == 0;
    } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
      return false; // -Dorg.bytedeco.javacpp.loadLibraries=false, or a jar without the bridge
    }
  }

  /**
   * Loads the preloads and libtorch libraries in {@link #loadOrder}; returns the files of the
   * libtorch ones.
   */
  private static List<String> preloadBundled() {
    Class<?> torch = torchGlobalClass();
    ClassProperties properties = Loader.loadProperties(torch, Loader.loadProperties(), true);
    loadInheritedPresets(properties);
    List<String> declared = new ArrayList<>(properties.get("platform.preload"));
    declared.addAll(properties.get("platform.link"));
    List<String> loadedFiles = new ArrayList<>();
    List<String> bundledFiles = new ArrayList<>();
    for (String library : loadOrder(declared)) {
      // JavaCPP itself makes '!' libraries global once its JNI library is in; here they only need
      // to be loaded
      String name = library.endsWith("!") ? library.substring(0, library.length() - 1) : library;
      URL[] urls = Loader.findLibrary(torch, properties, name, false);
      if (isTorchLibrary(name)) {
        urls = bundledOnly(urls);
        if (urls.length == 0) {
          if (properties.get("platform.link").contains(library)) throw missingBundle(name);
          // e.g. c10_cuda on a CPU-only build: not bundled, and JavaCPP then tries
          // System.loadLibrary,
          // which would bind another libtorch's copy from java.library.path next to the bundled c10
          Path other = onLibraryPath(name, System.getProperty("java.library.path"));
          if (other != null) {
            throw new IllegalStateException(
                "JavaCPP would load "
                    + other
                    + ", part of a libtorch other than"
                    + " arpo4j's bundled one; leave its directory out of java.library.path (-Djava.library.path=...)");
          }
          continue;
        }
      }
      try {
        String file = Loader.loadLibrary(torch, urls, name, loadedFiles.toArray(new String[0]));
        if (file != null && new File(file).isAbsolute()) {
          loadedFiles.add(file);
          if (isTorchLibrary(name)) bundledFiles.add(file);
        }
      } catch (UnsatisfiedLinkError e) {
        if (isTorchLibrary(name)) {
          throw new IllegalStateException(
              "cannot load the bundled lib"
                  + name
                  + ".so: "
                  + rootLinkError(e)
                  + conflictNote()
                  + CACHE_HINT,
              e);
        }
        // an optional preload (a CUDA library on a CPU machine): JavaCPP skips it the same way
      }
    }
    return bundledFiles;
  }

  /**
   * Loads, through JavaCPP, the presets libtorch's inherit (OpenBLAS): their libraries live in
   * their own jars, which {@link Loader#findLibrary} for the torch class does not search, and on an
   * empty cache nothing has extracted them yet, so {@code libtorch_cpu.so}'s {@code NEEDED
   * libopenblas.so.0} would find nothing. JavaCPP's own {@code Loader.load} initialises inherited
   * presets first for the same reason.
   */
  private static void loadInheritedPresets(ClassProperties properties) {
    List<Class> inherited = properties.getInheritedClasses();
    if (inherited == null) return;
    for (Class<?> presets : inherited) {
      if (presets.getName().startsWith("org.bytedeco.pytorch.")) continue;
      try {
        Loader.load(presets);
      } catch (UnsatisfiedLinkError e) {
        throw new IllegalStateException(
            "cannot load "
                + presets.getName()
                + ", which the bundled libtorch needs: "
                + rootLinkError(e)
                + "; check that its platform jar ("
                + Loader.getPlatform()
                + ") is on the class path"
                + CACHE_HINT,
            e);
      }
    }
  }

  private static final String CACHE_HINT =
      "; if a JavaCPP cache was left half-written, delete it (~/.javacpp/cache, or the directory"
          + " of -Dorg.bytedeco.javacpp.cachedir) and run again";

  /**
   * The message of the innermost link error: JavaCPP wraps the linker's own words ("libX.so.0:
   * cannot open shared object file") in a "no X in java.library.path" that names nothing useful.
   */
  static String rootLinkError(Throwable e) {
    String message = e.getMessage();
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof UnsatisfiedLinkError && t.getMessage() != null) message = t.getMessage();
    }
    return message;
  }

  private static void loadTorch() {
    Loader.load(torchGlobalClass());
  }

  private static Class<?> torchGlobalClass() {
    try {
      // not initialised here: its static initialiser is what loads the libraries
      return Class.forName(TORCH_GLOBAL, false, NativeLibraries.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException("org.bytedeco:pytorch is not on the class path", e);
    }
  }

  private static IllegalStateException missingBundle(String name) {
    return new IllegalStateException(
        "the bundled lib"
            + name
            + ".so was not found: put org.bytedeco:pytorch:"
            + "<version>:"
            + Loader.getPlatform()
            + " on the class path, or set -Dorg.bytedeco.javacpp.pathsFirst=true"
            + " to use a libtorch of your own"
            + conflictNote());
  }

  private static String conflictNote() {
    List<Path> others =
        conflictingLibraries(
            linkerSearchDirectories(
                System.getenv("LD_LIBRARY_PATH"),
                System.getProperty("java.library.path"),
                Path.of("/etc/ld.so.conf")));
    return others.isEmpty()
        ? ""
        : " (another libtorch is on the library path: " + others.get(0) + ")";
  }

  static boolean pathsFirst() {
    // the two spellings JavaCPP's Loader accepts; "" (a bare -D) means true there too
    String s = System.getProperty("org.bytedeco.javacpp.pathsfirst", "false");
    s = System.getProperty("org.bytedeco.javacpp.pathsFirst", s).toLowerCase(Locale.ROOT);
    return s.equals("true") || s.equals("t") || s.isEmpty();
  }

  static boolean isTorchLibrary(String javacppName) {
    String base = javacppName.split("[@#:]")[0];
    return TORCH_LIBRARY_FILE.matcher("lib" + base + ".so").matches();
  }

  /** The URLs of resources inside the presets' jars, not of files found on a library path. */
  private static URL[] bundledOnly(URL[] urls) {
    return Stream.of(urls).filter(u -> u.getPath().contains("/org/bytedeco/")).toArray(URL[]::new);
  }

  /**
   * The order to load JavaCPP's declared libraries in: everything that is not libtorch first, in
   * the declared order; then {@code c10}, the other {@code c10_*}, {@code torch_cpu}, the other
   * {@code torch_*} and last {@code torch}, which needs them all.
   */
  static List<String> loadOrder(List<String> declared) {
    List<String> order = new ArrayList<>(new LinkedHashSet<>(declared));
    order.sort(
        Comparator.comparingInt(NativeLibraries::rank)); // stable: ties keep the declared order
    return order;
  }

  private static int rank(String library) {
    String base = library.split("[@#:!]")[0];
    if (!isTorchLibrary(base)) return 0;
    if (base.equals("c10")) return 1;
    if (base.startsWith("c10_")) return 2;
    if (base.equals("torch_cpu")) return 3;
    if (base.startsWith("torch_")) return 4;
    return 5;
  }

  /**
   * The directories the dynamic linker and {@code System.loadLibrary} search, in order: {@code
   * LD_LIBRARY_PATH}, {@code java.library.path}, the directories of {@code ld.so.conf} (with its
   * includes), then the built-in ones. Missing directories are kept out.
   */
  static List<Path> linkerSearchDirectories(
      String ldLibraryPath, String javaLibraryPath, Path ldSoConf) {
    Set<Path> dirs = new LinkedHashSet<>();
    for (String list : new String[] {ldLibraryPath, javaLibraryPath}) {
      if (list == null) continue;
      for (String dir : list.split(File.pathSeparator)) {
        if (!dir.isBlank()) dirs.add(Path.of(dir));
      }
    }
    readLdSoConf(ldSoConf, dirs, 0);
    for (String dir : new String[] {"/lib", "/usr/lib", "/lib64", "/usr/lib64"})
      dirs.add(Path.of(dir));
    dirs.removeIf(d -> !Files.isDirectory(d));
    return new ArrayList<>(dirs);
  }

  private static void readLdSoConf(Path conf, Set<Path> dirs, int depth) {
    if (depth > 8 || !Files.isRegularFile(conf)) return;
    try {
      for (String raw : Files.readAllLines(conf)) {
        String line = raw.replaceFirst("#.*", "").strip();
        if (line.isEmpty()) continue;
        if (line.startsWith("include ")) {
          Path pattern = conf.resolveSibling(line.substring("include ".length()).strip());
          Path dir = pattern.getParent();
          if (dir == null || !Files.isDirectory(dir)) continue;
          try (DirectoryStream<Path> matches =
              Files.newDirectoryStream(dir, pattern.getFileName().toString())) {
            List<Path> sorted = new ArrayList<>();
            matches.forEach(sorted::add);
            sorted.sort(null);
            for (Path included : sorted) readLdSoConf(included, dirs, depth + 1);
          }
        } else if (line.startsWith("/")) {
          dirs.add(Path.of(line));
        }
      }
    } catch (IOException e) {
      // an unreadable ld.so.conf only makes the diagnosis less complete
    }
  }

  /** The file {@code System.loadLibrary} would load for a JavaCPP library name, or null. */
  static Path onLibraryPath(String javacppName, String libraryPath) {
    if (libraryPath == null) return null;
    String file = System.mapLibraryName(javacppName.split("[@#:!]")[0]);
    for (String dir : libraryPath.split(File.pathSeparator)) {
      if (dir.isBlank()) continue;
      Path candidate = Path.of(dir, file);
      if (Files.isRegularFile(candidate)) return candidate;
    }
    return null;
  }

  /**
   * The libtorch files (by {@link #TORCH_LIBRARY_FILE}) in the given directories, in search order.
   */
  static List<Path> conflictingLibraries(List<Path> dirs) {
    List<Path> found = new ArrayList<>();
    for (Path dir : dirs) {
      try (Stream<Path> files = Files.list(dir)) {
        files
            .filter(f -> TORCH_LIBRARY_FILE.matcher(f.getFileName().toString()).matches())
            .sorted()
            .forEach(found::add);
      } catch (IOException | UncheckedIOException e) {
        // unreadable directory: the linker cannot use it either
      }
    }
    return found;
  }

  /**
   * The files mapped into this process ({@code /proc/self/maps}), or none where that does not
   * exist.
   */
  static List<String> mappedFiles() {
    Path maps = Path.of("/proc/self/maps");
    if (!Files.isReadable(maps)) return List.of();
    try (Stream<String> lines = Files.lines(maps)) {
      return lines
          .map(l -> l.split("\\s+", 6))
          .filter(f -> f.length == 6 && f[5].startsWith("/"))
          .map(f -> f[5].strip())
          .distinct()
          .toList();
    } catch (IOException | UncheckedIOException e) {
      return List.of();
    }
  }

  /** The mapped libtorch files that are not one of {@code bundled} (compared as real paths). */
  static List<String> strayTorchLibraries(List<String> mapped, List<String> bundled) {
    Set<Path> ours = new LinkedHashSet<>();
    for (String file : bundled) ours.add(realPath(file));
    List<String> stray = new ArrayList<>();
    for (String file : mapped) {
      String name = Path.of(file).getFileName().toString();
      if (TORCH_LIBRARY_FILE.matcher(name).matches() && !ours.contains(realPath(file)))
        stray.add(file);
    }
    return stray;
  }

  private static Path realPath(String file) {
    try {
      return Path.of(file).toRealPath();
    } catch (IOException e) {
      return Path.of(file).toAbsolutePath().normalize();
    }
  }
}
