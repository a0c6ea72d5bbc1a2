#!/usr/bin/env bash
# Runs every zapsls benchmark in one go and prints the tables:
#
#   A. hot path: zap's scenarios (AddingFields, AccumulatedContext,
#      WithoutFields) and the encoder alone, zapsls against zap's JSON
#      encoder (go test -bench, package zapsls);
#   B. the lock-free ring against a mutex ring and channels, and the ring's
#      memory with mapped and with Go heap segments (internal/ring);
#   C. end to end: BenchmarkEndToEnd, then this directory's tool: every
#      contender in fresh processes (-all), zapsls by entry size and
#      goroutines (-scaling), and a chart of entries/s;
#   D. memory: idle, steady (2,000 entries/s, 1 and 4 Writers) and burst,
#      every contender in fresh processes (-memory);
#   E. log-call latency at a paced 100,000 entries/s from 4 goroutines for
#      4 s, every contender in fresh processes (-latency).
#
# About nine minutes on a 2-core machine. Set N (entries per end-to-end
# run, default 1000000), RUNS (runs per contender, default 3) or SCALING_N
# (default 400000) to change it. Raw outputs go to a temporary
# directory, named at the end; the chart to benchmarks/entries-per-second.png.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
RUNS=${RUNS:-3}
SCALING_N=${SCALING_N:-400000}
out=$(mktemp -d "${TMPDIR:-/tmp}/zapsls-bench.XXXXXX")

echo "== machine"
go version
echo "nproc: $(nproc 2>/dev/null || echo '?'), CPU: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || echo '?')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"

echo
echo "== A. hot path (zap's scenarios, b.RunParallel; zapsls ships to an slstest server process)"
go test -run XXX -bench 'AddingFields|AccumulatedContext|WithoutFields|Encoder$' \
	-benchmem -count=1 . | tee "$out/hotpath.txt"

echo
echo "== B. ring: one op is one 200-byte record through the queue"
go test -run XXX -bench Queue -benchmem -count=1 ./internal/ring | tee "$out/ring.txt"

echo
echo "== B2. ring memory: a 64 MiB backlog in mapped and in Go heap segments, a process each"
for kind in mmap heap; do
	go test -run XXX -bench "BacklogMemory/$kind" -benchtime 1x -count=1 ./internal/ring | tee -a "$out/ring-memory.txt"
done

echo
echo "== C. end to end, zapsls and zap to a file (go test; the slstest server in a child process)"
go test -run XXX -bench EndToEnd -benchmem -benchtime=200000x -count=1 . | tee "$out/endtoend.txt"

(cd benchmarks && go build -o "$out/zapsls-bench" .)

echo
echo "== C1. end to end, the SDK's benchmark log, each contender in fresh processes"
"$out/zapsls-bench" -all -n "$N" -runs "$RUNS" -results "$out/all.jsonl" | tee "$out/all.md"

echo
echo "== C2. zapsls scaling"
"$out/zapsls-bench" -scaling -n "$SCALING_N" | tee "$out/scaling.md"

echo
echo "== C3. chart"
"$out/zapsls-bench" -chart benchmarks/entries-per-second.png -results "$out/all.jsonl"
echo "benchmarks/entries-per-second.png"

echo
echo "== D. memory: idle, steady and burst, each contender in fresh processes"
"$out/zapsls-bench" -memory -runs "$RUNS" | tee "$out/memory.md"

echo
echo "== E. log-call latency at a paced 100,000 entries/s from 4 goroutines, each contender in fresh processes"
"$out/zapsls-bench" -latency -runs "$RUNS" | tee "$out/latency.md"

echo
echo "raw outputs: $out"
