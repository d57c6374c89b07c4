#!/usr/bin/env bash
# Builds everything (CPU kernels; with nvcc on the PATH also the CUDA kernels, their JNI bridge and
# the CUDA check harness) and runs the whole test suite. The test command of README.md and CI.
set -euo pipefail
cd "$(dirname "$0")/.."
flags=()
if command -v nvcc >/dev/null 2>&1; then flags+=(-Dcuda.jni.skip=false); fi
scripts/fetch-qwen3-tokenizer.sh || echo "warning: the Qwen3 tokenizer could not be fetched; its tests will be skipped"
mvn -B -ntp "${flags[@]}" "$@" verify
# The CUDA check harness: on a machine without a GPU it says so and exits 0.
if [ -x target/native/arpo4j_cuda_check ]; then
  target/native/arpo4j_cuda_check --quick
fi
