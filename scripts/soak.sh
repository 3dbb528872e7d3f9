#!/usr/bin/env bash
# make soak: kill -9 at random points of `mrcnn train --resume --store` and
# `mrcnn ablate`, including inside the store append and the record commit
# (MRCNN_FAULT_AT, core/fileio.h mr_fault_point), resume until each run
# finishes, and check that
#   - every finished run is bitwise equal to an uninterrupted one
#     (model_final.safetensors, metrics.json, results_val.json);
#   - the store is valid (`mrcnn store check`) with exactly one record per
#     finished run, also after resuming a finished run once more.
# Not part of `make test` (minutes). Knobs: SOAK_TRAINS (runs of part A,
# default 24), SOAK_ABLATE_ROUNDS (sweeps of 4 runs in part B, default 4), SOAK_SEED.
# Prints the kill count per kind and exits 1 on any failure.
set -uo pipefail
set +m
cd "$(dirname "$0")/.."
BIN=${MRCNN_BIN:-$PWD/mrcnn}
TRAINS=${SOAK_TRAINS:-24}
AROUNDS=${SOAK_ABLATE_ROUNDS:-4}
RANDOM=${SOAK_SEED:-22}
tmp=$(mktemp -d /tmp/mrcnn-soak-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "soak: FAIL: $*"; fail=1; }
declare -A kills=()
count() { kills[$1]=$(( ${kills[$1]:-0} + 1 )); }

"$BIN" synth --preset tiny --train 16 --val 8 --out "$tmp/data" >/dev/null || { echo "soak: synth failed"; exit 1; }
# checkpoints every 10 of 60 iterations, so kills land between them too
cat > "$tmp/soak.json" <<EOF
{"base": "$PWD/variants/configs/tiny_fpn.json",
 "schedule": {"iters": 60, "warmup_iters": 10, "steps": [40, 50], "checkpoint_every": 10, "log_every": 5}}
EOF
train() {  # train RUN STORE: one attempt in the foreground, its exit status
  local run=$1 store=$2
  "$BIN" train --config "$tmp/soak.json" --data "$tmp/data" --out "$run" --store "$store" --quiet --resume \
    >>"$run.log" 2>&1
}
train_bg() {  # the same in the background, as its own process group: $! is mrcnn's pid
  local run=$1 store=$2
  setsid "$BIN" train --config "$tmp/soak.json" --data "$tmp/data" --out "$run" --store "$store" --quiet --resume \
    >>"$run.log" 2>&1 &
}
same() {  # same DIR_A DIR_B: the outputs bitwise equal
  local f
  for f in model_final.safetensors metrics.json results_val.json; do
    cmp -s "$1/$f" "$2/$f" || { bad "$2/$f differs from the uninterrupted run"; return 1; }
  done
}
records_of() {  # records_of STORE RUN_DIR: how many records name RUN_DIR
  python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l).get("run_dir")==sys.argv[2]))' "$1" "$2"
}

# ---- part A: single training runs ----
mkdir -p "$tmp/a"
train "$tmp/a/ref" "$tmp/a/ref.jsonl" || { echo "soak: the reference run failed"; cat "$tmp/a/ref.log"; exit 1; }
faults=(timer timer timer store_torn store_written record_pending record_stored)
S="$tmp/a/store.jsonl"
for i in $(seq 1 "$TRAINS"); do
  run="$tmp/a/run$i"
  mode=${faults[$(( RANDOM % ${#faults[@]} ))]}
  tries=0
  while :; do
    tries=$((tries + 1))
    [ $tries -gt 30 ] && { bad "run$i never finished"; break; }
    if [ "$mode" = timer ] && [ $tries -le 3 ]; then
      train_bg "$run" "$S"; pid=$!
      sleep "0.$(( RANDOM % 10 ))$(( RANDOM % 10 ))"
      kill -9 -- -$pid 2>/dev/null; wait $pid; rc=$?
      while pgrep -g $pid >/dev/null 2>&1; do sleep 0.1; done
      if [ $rc = 137 ]; then count timer; continue; fi
    elif [ "$mode" != timer ] && [ $tries = 1 ]; then
      MRCNN_FAULT_AT=$mode train "$run" "$S"; rc=$?
      if [ $rc = 137 ]; then count "$mode"; continue; fi
      bad "run$i: MRCNN_FAULT_AT=$mode did not kill it (exit $rc)"
    else
      train "$run" "$S"; rc=$?
    fi
    [ $rc = 0 ] && break
    bad "run$i: exit $rc"; tail -3 "$run.log"; break
  done
  same "$tmp/a/ref" "$run"
  # a finished run resumed again, and a re-run of the same command: no second record
  train "$run" "$S" || bad "run$i: resuming the finished run failed"
  n=$(records_of "$S" "$run")
  [ "$n" = 1 ] || bad "run$i: $n records in the store"
done
"$BIN" store check "$S" >"$tmp/a/check.txt" 2>&1 || { bad "part A store check"; cat "$tmp/a/check.txt"; }
grep -q "$TRAINS records of $TRAINS runs" "$tmp/a/check.txt" || { bad "part A: not $TRAINS records"; tail -1 "$tmp/a/check.txt"; }

# ---- part B: ablation sweeps, the whole process group killed ----
B="$tmp/b"
mkdir -p "$B"
ablate() {  # ablate RUNS STORE RESULTS [&]: in the foreground
  "$BIN" ablate 2c --preset tiny --rows roialign_ave --seeds 2 --iters 20 --jobs 1 --data "$tmp/data" \
    --runs "$1" --store "$2" --results "$3" >>"$B/ablate.log" 2>&1
}
ablate_bg() {  # in the background as its own process group (the sweep and its runs): $! is its pid
  setsid "$BIN" ablate 2c --preset tiny --rows roialign_ave --seeds 2 --iters 20 --jobs 1 --data "$tmp/data" \
    --runs "$1" --store "$2" --results "$3" >>"$B/ablate.log" 2>&1 &
}
ablate "$B/ref" "$B/ref.jsonl" "$B/refres" || { echo "soak: the reference sweep failed"; tail "$B/ablate.log"; exit 1; }
# rounds: each a fresh runs folder (4 runs) on the one store; up to 4 kills
# per round, one of them a fault inside the store or record write
for r in $(seq 1 "$AROUNDS"); do
  R="$B/runs$r"; k=0; tries=0
  while :; do
    tries=$((tries + 1))
    [ $tries -gt 40 ] && { bad "round $r: the sweep never finished"; break; }
    if [ $k -lt 4 ]; then
      if [ $k = 1 ]; then
        # a child run kills itself inside the store or record write; the sweep goes on and fails at its end
        f=${faults[$(( 3 + RANDOM % 4 ))]}
        MRCNN_FAULT_AT=$f ablate "$R" "$B/store.jsonl" "$B/res"; count "ablate_$f"; k=$((k + 1)); continue
      fi
      ablate_bg "$R" "$B/store.jsonl" "$B/res"; pid=$!
      sleep "$(( RANDOM % 4 )).$(( RANDOM % 10 ))"
      if kill -9 -- -$pid 2>/dev/null; then
        wait $pid; count ablate_timer; k=$((k + 1))
        while pgrep -g $pid >/dev/null 2>&1; do sleep 0.1; done   # its runs gone too
        continue
      fi
      wait $pid && break
    else
      ablate "$R" "$B/store.jsonl" "$B/res" && break
    fi
  done
  n=0
  for d in "$R"/tiny/2c/*/seed*; do
    n=$((n + 1))
    rel=${d#"$R/"}
    same "$B/ref/$rel" "$d"
    c=$(records_of "$B/store.jsonl" "$d")
    [ "$c" = 1 ] || bad "round $r: $rel: $c records in the store"
  done
  [ $n = 4 ] || bad "round $r: $n run directories, expected 4"
  ablate "$R" "$B/store.jsonl" "$B/res" || bad "round $r: a sweep over finished runs failed"
done
"$BIN" store check "$B/store.jsonl" >"$B/check.txt" 2>&1 || { bad "part B store check"; cat "$B/check.txt"; }
nb=$((AROUNDS * 4))
grep -q "$nb records of $nb runs" "$B/check.txt" || { bad "part B: not $nb records"; tail -1 "$B/check.txt"; }

total=0
for key in "${!kills[@]}"; do total=$((total + kills[$key])); done
echo "soak: $total kills:$(for key in $(printf '%s\n' "${!kills[@]}" | sort); do printf ' %s %d' "$key" "${kills[$key]}"; done)"
echo "soak: part A $TRAINS training runs, part B $nb ablation runs; store: $(tail -1 "$tmp/a/check.txt" | sed 's/.*: //'), $(tail -1 "$B/check.txt" | sed 's/.*: //')"
[ $fail = 0 ] && echo "soak: OK" || { echo "soak: FAILED"; exit 1; }
