package io.arpo4j.kernels;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the dynamic linker reads from a 64-bit little-endian ELF shared library: its DT_NEEDED,
 * DT_RUNPATH and DT_RPATH entries and its whole dynamic string table. Read through the program
 * headers (PT_DYNAMIC, PT_LOAD), as the loader does, so a stripped library (no section headers)
 * reads the same. Written here so the check needs no readelf.
 *
 * @param needed the libraries it needs, as written (a name, or a path)
 * @param runpath the DT_RUNPATH entries, split at ':'
 * @param rpath the DT_RPATH entries, split at ':'
 * @param strings every NUL-terminated string of the dynamic string table (.dynstr)
 */
record ElfDynamicSection(
    List<String> needed, List<String> runpath, List<String> rpath, List<String> strings) {

  private static final int PT_LOAD = 1;
  private static final int PT_DYNAMIC = 2;
  private static final long DT_NULL = 0;
  private static final long DT_NEEDED = 1;
  private static final long DT_STRTAB = 5;
  private static final long DT_STRSZ = 10;
  private static final long DT_RPATH = 15;
  private static final long DT_RUNPATH = 29;

  /**
   * @throws IOException if {@code file} is not a 64-bit little-endian ELF file with a dynamic
   *     segment, naming the file and what is wrong
   */
  static ElfDynamicSection read(Path file) throws IOException {
    ByteBuffer elf = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    if (elf.limit() < 64
        || elf.getInt(0) != 0x464c457f /* "\177ELF" */
        || elf.get(4) != 2 /* ELFCLASS64 */
        || elf.get(5) != 1 /* ELFDATA2LSB */) {
      throw new IOException(file + ": not a 64-bit little-endian ELF file");
    }
    long programHeaders = elf.getLong(0x20);
    int entrySize = Short.toUnsignedInt(elf.getShort(0x36));
    int count = Short.toUnsignedInt(elf.getShort(0x38));
    List<long[]> loads = new ArrayList<>(); // {vaddr, offset, filesz}
    long dynamicOffset = -1, dynamicSize = 0;
    for (int i = 0; i < count; i++) {
      int at = Math.toIntExact(programHeaders + (long) i * entrySize);
      int type = elf.getInt(at);
      long offset = elf.getLong(at + 8), vaddr = elf.getLong(at + 16);
      long fileSize = elf.getLong(at + 32);
      if (type == PT_LOAD) loads.add(new long[] {vaddr, offset, fileSize});
      if (type == PT_DYNAMIC) {
        dynamicOffset = offset;
        dynamicSize = fileSize;
      }
    }
    if (dynamicOffset < 0) throw new IOException(file + ": no PT_DYNAMIC segment");

    List<long[]> entries = new ArrayList<>(); // {tag, value}
    long stringTable = -1, stringTableSize = -1;
    for (long at = dynamicOffset; at + 16 <= dynamicOffset + dynamicSize; at += 16) {
      long tag = elf.getLong(Math.toIntExact(at)), value = elf.getLong(Math.toIntExact(at + 8));
      if (tag == DT_NULL) break;
      if (tag == DT_STRTAB) stringTable = fileOffset(file, loads, value);
      else if (tag == DT_STRSZ) stringTableSize = value;
      else entries.add(new long[] {tag, value});
    }
    if (stringTable < 0 || stringTableSize < 0) {
      throw new IOException(file + ": the dynamic segment has no DT_STRTAB or DT_STRSZ");
    }
    byte[] table = new byte[Math.toIntExact(stringTableSize)];
    elf.get(Math.toIntExact(stringTable), table);

    List<String> needed = new ArrayList<>(), runpath = new ArrayList<>(), rpath = new ArrayList<>();
    for (long[] entry : entries) {
      if (entry[0] == DT_NEEDED) needed.add(string(table, entry[1]));
      if (entry[0] == DT_RUNPATH) runpath.addAll(Arrays.asList(string(table, entry[1]).split(":")));
      if (entry[0] == DT_RPATH) rpath.addAll(Arrays.asList(string(table, entry[1]).split(":")));
    }
    List<String> strings = new ArrayList<>();
    for (int start = 0; start < table.length; ) {
      int end = start;
      while (end < table.length && table[end] != 0) end++;
      if (end > start) strings.add(new String(table, start, end - start, StandardCharsets.UTF_8));
      start = end + 1;
    }
    return new ElfDynamicSection(needed, runpath, rpath, strings);
  }

  /** The file offset of virtual address {@code address}: through the PT_LOAD segment holding it. */
  private static long fileOffset(Path file, List<long[]> loads, long address) throws IOException {
    for (long[] load : loads) {
      if (address >= load[0] && address < load[0] + load[2]) return address - load[0] + load[1];
    }
    throw new IOException(file + ": address 0x" + Long.toHexString(address) + " is in no PT_LOAD");
  }

  private static String string(byte[] table, long offset) {
    int start = Math.toIntExact(offset), end = start;
    while (end < table.length && table[end] != 0) end++;
    return new String(table, start, end - start, StandardCharsets.UTF_8);
  }
}
