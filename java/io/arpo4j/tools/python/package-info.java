/**
 * The {@code <python>} tool: {@link io.arpo4j.tools.python.PythonTool} answers with what the
 * model's code printed, run by a {@link io.arpo4j.tools.python.PythonWorkerPool} of persistent,
 * sandboxed {@code python3} workers (namespaces, seccomp, resource limits, a sandbox uid leased per
 * pool across JVMs). What the sandbox does and does not guarantee in each isolation mode is in
 * docs/tools.md; {@link io.arpo4j.tools.python.PythonSandboxConfig} holds its settings.
 */
package io.arpo4j.tools.python;
