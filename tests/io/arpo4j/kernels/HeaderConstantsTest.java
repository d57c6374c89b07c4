package io.arpo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The constants Java passes to the kernels are the header's, read from native/include/arpo4j.h as
 * text.
 */
class HeaderConstantsTest {
  static final Pattern DEFINE = Pattern.compile("#define\\s+(ARPO_[A-Z0-9_]+)\\s+(\\d+)");
  static final Pattern ENUMERATOR = Pattern.compile("\\b(ARPO_[A-Z0-9_]+)\\s*=\\s*(\\d+)");

  static Map<String, Integer> headerConstants() throws Exception {
    String header = Files.readString(Path.of("native/include/arpo4j.h"));
    Map<String, Integer> constants = new TreeMap<>();
    for (Pattern p : new Pattern[] {DEFINE, ENUMERATOR}) {
      Matcher m = p.matcher(header);
      while (m.find()) constants.put(m.group(1), Integer.parseInt(m.group(2)));
    }
    return constants;
  }

  @Test
  void javaSeesEveryHeaderConstantWithItsValue() throws Exception {
    Map<String, Integer> header = headerConstants();
    assertTrue(header.size() >= 12, "parsed " + header);
    Map<String, Integer> java = new TreeMap<>();
    for (Field f : NativeKernels.class.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getName().startsWith("ARPO_"))
        java.put(f.getName(), f.getInt(null));
    }
    // ARPO_ERR_* are only ever returned, never passed; everything else must be mirrored
    header.keySet().removeIf(name -> name.startsWith("ARPO_ERR_"));
    assertEquals(header, java);
  }

  @Test
  void everyAggregationMapsToTheHeadersModeOfTheSameName() throws Exception {
    Map<String, Integer> header = headerConstants();
    TreeSet<String> headerModes = new TreeSet<>();
    header.keySet().stream()
        .filter(n -> n.startsWith("ARPO_AGG_"))
        .forEach(n -> headerModes.add(n.substring(9)));
    TreeSet<String> javaModes = new TreeSet<>();
    Arrays.stream(LossAggregation.values()).forEach(a -> javaModes.add(a.name()));
    assertEquals(headerModes, javaModes);
    for (LossAggregation a : LossAggregation.values()) {
      assertEquals(header.get("ARPO_AGG_" + a.name()), Kernels.aggregationMode(a), a.name());
    }
  }

  @Test
  void theBackendIsChosenByTheTensorsDevice() {
    try (org.bytedeco.pytorch.Tensor cpu = TestTensors.tensor(new float[] {1f}, 1)) {
      assertTrue(KernelBackend.on(cpu) instanceof KernelBackend.Cpu);
    }
  }
}
