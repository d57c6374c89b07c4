package io.arpo4j.trainer;

import io.arpo4j.model.NativeSection;

/**
 * A child process for {@link ExitDuringTrainingTest}: stays 3 s in a native section, then enters
 * sections forever.
 */
public final class SectionHolder {
  public static void main(String[] args) throws InterruptedException {
    try (NativeSection section = NativeSection.enter()) {
      System.out.println("entered");
      Thread.sleep(3000);
      System.out.println("left");
    }
    while (true) {
      try (NativeSection section = NativeSection.enter()) {
        System.out.println("entered again"); // never printed once exit has begun
        Thread.sleep(100);
      }
    }
  }
}
