package io.arpo4j.tools.browse;

import java.time.Duration;
import java.util.Objects;

/**
 * Settings of the {@code <browse>} tool.
 *
 * @param maxChars longest text returned to the model
 * @param maxBytes most bytes read from a page (the rest is ignored)
 * @param timeout limit of one page fetch, redirects included
 * @param maxRedirects redirects followed (each target is checked like the first URL)
 * @param allowPrivateAddresses whether loopback, private, link-local and similar addresses may be
 *     fetched; off by default so model-written URLs cannot reach local services or cloud metadata
 * @param userAgent the User-Agent header sent
 */
public record BrowseConfig(
    int maxChars,
    int maxBytes,
    Duration timeout,
    int maxRedirects,
    boolean allowPrivateAddresses,
    String userAgent) {

  public BrowseConfig {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(userAgent, "userAgent");
    if (maxChars < 64) {
      throw new IllegalArgumentException("maxChars must be >= 64, got " + maxChars);
    }
    if (maxBytes < 1024) {
      throw new IllegalArgumentException("maxBytes must be >= 1024, got " + maxBytes);
    }
    if (maxRedirects < 0) {
      throw new IllegalArgumentException("maxRedirects must be >= 0, got " + maxRedirects);
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive, got " + timeout);
    }
  }

  public static BrowseConfig defaults() {
    return new BrowseConfig(4000, 2 << 20, Duration.ofSeconds(20), 5, false, "arpo4j-browse/0.1");
  }

  public BrowseConfig withMaxChars(int chars) {
    return new BrowseConfig(
        chars, maxBytes, timeout, maxRedirects, allowPrivateAddresses, userAgent);
  }

  public BrowseConfig withAllowPrivateAddresses(boolean allow) {
    return new BrowseConfig(maxChars, maxBytes, timeout, maxRedirects, allow, userAgent);
  }
}
