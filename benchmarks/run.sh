#!/usr/bin/env bash
# Benchmarks of arpo4j. Usage:
#   benchmarks/run.sh kernels [--quick]      native kernels vs libtorch composites (JMH)
#   benchmarks/run.sh model [--quick]        prefill/decode tokens/s, fork vs re-prefill
#   benchmarks/run.sh decode [--shape qwen2.5-0.5b|small] [--threads N] [--batches 1,4,16,64]
#                            [--context 1024,4096] [--context-batch 16]
#                                            decode/prefill/training speed vs the same run's read
#                                            bandwidth and (where python3 has torch) PyTorch eager;
#                                            long-context decode, attention in place vs gathered
#   benchmarks/run.sh rollout [P M R] [--model DIR] [--tools demo|none] [--max-tokens T]
#                                            ARPO vs GRPO rollout throughput, each against plain batched
#                                            decode at the same live sequences; python pool vs fresh process
#                                            (random weights, e.g. decode's target/decode-bench/qwen2.5-0.5b:
#                                            --tools none)
#   benchmarks/run.sh demo-compare [--seeds N] [--first-seed K] [--collect] [--quick] [--variants a,b]
#                                           the demo side-by-side over seeds (--collect: the table from
#                                           seeds run as separate processes, from their run directories)
#                                           (start, GRPO, GRPO at ARPO's calls, ARPO, AEPO, ARPO + each AEPO piece), mean ± sd
#   benchmarks/run.sh rewards [S]            math answer comparisons/s (S seconds per kind): plain, fractions, symbolic
#   benchmarks/run.sh memory [TOKENS]       peak RSS and time of one training step, Qwen2.5-0.5B shape:
#                                           gradient checkpointing on/off, chunked LM head vs [N, V] logits,
#                                           LoRA r = 16 (all projections) with checkpointing on/off
#   benchmarks/run.sh memory --sharding [LAYERS] [TOKENS]   peak RSS per rank, distributed.sharding
#                                           none/optimizer/gradients/full at 1 and 2 Gloo ranks
#                                           (SHARDINGS="none full" for some; full with gradient checkpointing)
#   benchmarks/run.sh memory --prefill [TOKENS...]   peak RSS of prefilling one prompt of each TOKENS
#                                           (default 2048 4096), Qwen2.5-0.5B shape, in 1024-token
#                                           forward passes and in one
#   benchmarks/run.sh ddp [ROWS]             SFT tokens/s at 1 and 2 ranks; Gloo all-reduce vs tensor copy
# Results (JMH JSON) go under target/; a table is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-}"; shift || true
quick=false
for a in "$@"; do [ "$a" = "--quick" ] && quick=true; done

build_classpath() {
  mvn -q -B test-compile -DskipTests >/dev/null
  mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >/dev/null
  echo "target/test-classes:target/classes:$(cat target/bench.classpath)"
}

case "$what" in
  kernels)
    cp=$(build_classpath)
    out=target/jmh-kernels.json
    if $quick; then
      jmh_args=(-f 1 -wi 1 -i 2 -w 1s -r 1s -p n=256 -p v=151936)
    else
      jmh_args=(-f 1 -wi 1 -i 3 -w 2s -r 2s)
    fi
    java -Xmx4g -cp "$cp" org.openjdk.jmh.Main 'io.arpo4j.kernels.(KernelBench|SurrogateBench)' \
      "${jmh_args[@]}" -rf json -rff "$out" > target/jmh-kernels.log
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    java -cp "$cp" io.arpo4j.kernels.KernelBenchReport "$out"
    ;;
  model)
    cp=$(build_classpath)
    java -Xmx8g -cp "$cp" io.arpo4j.model.ModelBench "$@"
    ;;
  decode)
    cp=$(build_classpath)
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    java -Xmx8g -cp "$cp" io.arpo4j.model.DecodeBench "$@"
    ;;
  rollout)
    cp=$(build_classpath)
    echo "== rollout throughput, ARPO vs GRPO at the same M, each against plain batched decode"
    java -Xmx8g -cp "$cp" io.arpo4j.rollout.RolloutThroughput "$@"
    echo "== python tool latency: worker pool vs a fresh process per call"
    java -cp "$cp" io.arpo4j.tools.PythonToolBench 100 20
    ;;
  demo-compare)
    cp=$(build_classpath)
    java -Xmx8g -cp "$cp" io.arpo4j.demo.DemoCompare "$@"
    ;;
  rewards)
    cp=$(build_classpath)
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    java -Xmx1g -cp "$cp" io.arpo4j.reward.MathVerifierBench "${1:-5}"
    ;;
  memory)
    cp=$(build_classpath)
    if [ "${1:-}" = "--sharding" ]; then
      # ZeRO stages at 1 and 2 Gloo ranks: the Qwen2.5-0.5B shape cut to LAYERS decoder layers
      # (two full 0.5B ranks need ~20 GB), TOKENS trained tokens per rank
      layers="${2:-4}"; tokens="${3:-256}"
      echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); fp32, Qwen2.5-0.5B shape with $layers of its 24 layers, one sequence per rank"
      java -cp "$cp" io.arpo4j.trainer.MemoryBench --header --sharding none
      for sharding in ${SHARDINGS:-none optimizer gradients full}; do
        checkpointing=false
        [ "$sharding" = full ] && checkpointing=true # full needs it
        for ranks in 1 2; do
          port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
          pids=()
          for ((r = 0; r < ranks; r++)); do
            env_vars=()
            [ "$ranks" -gt 1 ] && env_vars=(RANK=$r LOCAL_RANK=$r WORLD_SIZE=$ranks MASTER_ADDR=127.0.0.1 MASTER_PORT=$port)
            env "${env_vars[@]}" OMP_NUM_THREADS=$((2 / ranks)) OMP_WAIT_POLICY=passive \
              java -Xmx1g -cp "$cp" io.arpo4j.trainer.MemoryBench \
              --tokens "$tokens" --layers "$layers" --sharding "$sharding" --checkpointing "$checkpointing" &
            pids+=($!)
          done
          for p in "${pids[@]}"; do wait "$p"; done
        done
      done
      exit 0
    fi
    if [ "${1:-}" = "--prefill" ]; then
      shift
      echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); fp32, one prompt, greedy next token"
      java -cp "$cp" io.arpo4j.trainer.MemoryBench --header --prefill 0
      for tokens in ${@:-2048 4096}; do
        forwards="$tokens"
        [ "$tokens" -gt 1024 ] && forwards="1024 $tokens"
        for forward in $forwards; do
          java -Xmx1g -cp "$cp" io.arpo4j.trainer.MemoryBench \
            --prefill "$tokens" --forward-tokens "$forward"
        done
      done
      exit 0
    fi
    tokens="${1:-2048}"
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); fp32, one sequence, all tokens trained"
    java -cp "$cp" io.arpo4j.trainer.MemoryBench --header
    # one JVM per row: peak RSS only grows within a process. -Xmx1g is enough: arpo4j switches off
    # JavaCPP's cap on the process's memory (a multiple of -Xmx; the 0.5B step needs ~10 GB)
    # the 2x2 grid: gradient checkpointing off/on, LM head in 256-token chunks / all N tokens at once
    # then LoRA r = 16 on every projection (base frozen, AdamW over the adapter only), checkpointing off/on
    for cfg in "false 256 0" "true 256 0" "false $tokens 0" "true $tokens 0" "false 256 16" "true 256 16"; do
      set -- $cfg
      java -Xmx1g -cp "$cp" io.arpo4j.trainer.MemoryBench \
        --tokens "$tokens" --checkpointing "$1" --chunk "$2" --lora "$3"
    done
    ;;
  ddp)
    cp=$(build_classpath)
    java -Xmx2g -cp "$cp" io.arpo4j.distributed.DdpBench "$@"
    ;;
  *)
    echo "usage: benchmarks/run.sh kernels|model|decode|rollout|demo-compare|memory|rewards|ddp [--quick] [--seeds N]" >&2
    exit 2
    ;;
esac
