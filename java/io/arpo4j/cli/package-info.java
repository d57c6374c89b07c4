/**
 * The {@code arpo4j} command line (picocli): {@link io.arpo4j.cli.Main} and one class per
 * subcommand. Bad input ends with one line naming the file, key or line and exit code 2 ({@link
 * io.arpo4j.cli.CliErrors}); {@code --verbose} adds the stack trace. picocli is an optional
 * dependency: library users do not get it.
 */
package io.arpo4j.cli;
