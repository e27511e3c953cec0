#!/usr/bin/env bash
# Instruction-count guard of the anchor workloads (docs/benchmarks-anchor.md).
#
# Runs every workload below through `benches/examples/profile_write.rs` under callgrind,
# counting only the measured function (`write_once` / `read_once`), and compares the
# instructions per operation with benches/instructions.baseline. Fails when any workload
# costs more than 10 % above its baseline. Counts are exact and repeatable for one binary
# (no wall clock is involved), so the check is stable on a noisy machine; they do depend on
# the compiler and on valgrind, which is why the baseline records both.
#
#   bash benches/check-instructions.sh           # check (CI)
#   bash benches/check-instructions.sh --bless   # rewrite the baseline from this build
#
# Re-bless after an intended change (an optimisation, or a deliberate cost such as a new
# rule the engine now checks): run with --bless, review `git diff benches/instructions.baseline`
# and commit the new baseline with the change that explains it. A toolchain upgrade that
# moves every count is re-blessed the same way, in a commit of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=benches/instructions.baseline
threshold_pct=10
bless=false
case "${1:-}" in
  --bless) bless=true ;;
  "") ;;
  *) echo "usage: $0 [--bless]" >&2; exit 2 ;;
esac

if ! command -v valgrind >/dev/null; then
  echo "valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
fi

# name | profile_write arguments (workload size k iterations background-jobs [mode])
# Iterations are small: the counts are exact, so a few operations give the per-op cost.
workloads=(
  "a_set_health_n1000_k1|health 1000 1 20 100"
  "a_set_health_n1000_k10|health 1000 10 10 100"
  "b_promote_c100|promote 100 0 4 100"
  "c_fail_rollback_v10|fail 10 0 10 100"
  "c_fail_rollback_v100|fail 100 0 10 100"
  "d_deployment_by_id_d100000|by_id 100000 0 200 0"
  "d_prefix8_d100000|prefix 100000 8 200 0"
  "d_allocs_of_deployment_n1000|allocs 1000 0 10 100"
)

cargo build --quiet --release --locked -p rollout-benches --example profile_write
bin="${CARGO_TARGET_DIR:-target}/release/examples/profile_write"
toolchain="$(rustc -V) / $(valgrind --version)"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
declare -A now
for entry in "${workloads[@]}"; do
  name="${entry%%|*}"
  read -r -a args <<<"${entry#*|}"
  iterations="${args[3]}"
  case "${args[0]}" in
    by_id | prefix | allocs) fn=read_once ;;
    *) fn=write_once ;;
  esac
  valgrind --tool=callgrind --callgrind-out-file="$out/$name" \
    --toggle-collect="*profile_write*${fn}*" "$bin" "${args[@]}" >/dev/null 2>"$out/$name.log"
  total="$(sed -n 's/^summary: *//p' "$out/$name")"
  if [ -z "$total" ] || [ "$total" = 0 ]; then
    cat "$out/$name.log" >&2
    echo "$name: callgrind counted nothing in $fn (symbols stripped? function renamed?)" >&2
    exit 2
  fi
  now[$name]=$((total / iterations))
done

if $bless; then
  {
    echo "# Instructions per operation of the anchor workloads (callgrind, exact)."
    echo "# Written by: bash benches/check-instructions.sh --bless"
    echo "# toolchain: $toolchain"
    for entry in "${workloads[@]}"; do
      name="${entry%%|*}"
      echo "$name ${now[$name]}"
    done
  } >"$baseline"
  echo "wrote $baseline:"
  cat "$baseline"
  exit 0
fi

if [ ! -f "$baseline" ]; then
  echo "no $baseline: run 'bash benches/check-instructions.sh --bless' and commit it" >&2
  exit 2
fi
blessed_with="$(sed -n 's/^# toolchain: //p' "$baseline")"
if [ "$blessed_with" != "$toolchain" ]; then
  echo "note: the baseline was blessed with '$blessed_with', this run uses '$toolchain';"
  echo "      counts move a little between compilers (re-bless in a commit of its own if they do)"
fi

failed=0
printf '%-32s %14s %14s %9s\n' workload baseline now change
for entry in "${workloads[@]}"; do
  name="${entry%%|*}"
  base="$(awk -v n="$name" '$1 == n { print $2 }' "$baseline")"
  if [ -z "$base" ]; then
    echo "$name: not in $baseline (re-bless to add it)" >&2
    failed=1
    continue
  fi
  cur="${now[$name]}"
  change="$(awk -v b="$base" -v c="$cur" 'BEGIN { printf "%+.1f%%", (c - b) * 100 / b }')"
  verdict=""
  if [ $((cur * 100)) -gt $((base * (100 + threshold_pct))) ]; then
    verdict="  <-- more than ${threshold_pct}% above the baseline"
    failed=1
  elif [ $((cur * 100)) -lt $((base * (100 - threshold_pct))) ]; then
    verdict="  (cheaper: re-bless to keep the gain)"
  fi
  printf '%-32s %14s %14s %9s%s\n' "$name" "$base" "$cur" "$change" "$verdict"
done

if [ "$failed" != 0 ]; then
  cat >&2 <<MSG

Instruction counts rose more than ${threshold_pct}% on the workloads marked above (callgrind,
profile_write; exact counts, not timings). Profile the change:
  valgrind --tool=callgrind --toggle-collect='*profile_write*write_once*' \\
    \$CARGO_TARGET_DIR/release/examples/profile_write <workload args from benches/check-instructions.sh>
  callgrind_annotate callgrind.out.<pid>
If the cost is intended, re-bless: bash benches/check-instructions.sh --bless, and commit
benches/instructions.baseline with the change that explains it.
MSG
  exit 1
fi
echo "instruction counts within ${threshold_pct}% of the baseline"
