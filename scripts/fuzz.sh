#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60), one after another, and prints what
# libFuzzer reports at the end of each run (executions, coverage, corpus size).
#
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 600        # 10 minutes per target
#   scripts/fuzz.sh 600 money  # one target
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). New corpus entries
# land in fuzz/corpus/<target>/ and crashes in fuzz/artifacts/<target>/: commit both; the stable
# test `cargo test -p paycycle-fuzz` replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz (and rustup toolchain install nightly)" >&2
  exit 1
fi
cargo run -q -p paycycle-fuzz --bin seed
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
mkdir -p target/fuzz-logs
status=0
for t in "${targets[@]}"; do
  log="target/fuzz-logs/$t.log"
  echo "== $t: ${seconds}s"
  if cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -max_len=131072 -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done|cov: .*corp" "$log" | tail -4
  else
    status=1
    echo "!! $t failed: see $log and fuzz/artifacts/$t/"
    tail -30 "$log"
  fi
done
exit "$status"
