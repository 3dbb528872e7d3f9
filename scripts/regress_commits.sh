#!/usr/bin/env bash
# regress_commits.sh — the regression gate across a range of commits
# (`mrcnn regress --commits A..B` runs this). Each commit is built in its own
# git worktree (under $WORK, default runs/regress_commits/), trains the
# CURRENT tree's ci set (variants/configs/ci_fpn_mask.json on the ci
# synthetic preset, seed 1, 1 thread) with that commit's binary, appends the
# run's record to the results store (--store, default results/store.jsonl,
# where the commit's `mrcnn train` has --store), and is compared by the
# current binary (`mrcnn regress --compare-only`) with a baseline:
#   - by default the range's base A, run the same way on this machine: an
#     exact comparison (same machine class), so the first commit whose
#     numbers differ at all from A's is named;
#   - with --baseline FILE|DIR, that baseline (exact or statistical by
#     machine class, as `mrcnn regress` does).
# A range of more than 4 commits is bisected (the commits after the first
# moved one are assumed moved too, as git bisect does). Exit 0 when nothing
# moved, 1 naming the first commit that did, 2 on a usage or build error.
#
# usage: scripts/regress_commits.sh A..B [--baseline FILE|DIR] [--store FILE] [--jobs N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
range=""; baseline=""; store="results/store.jsonl"
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline=$2; shift 2 ;;
    --store) store=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *..*) range=$1; shift ;;
    *) echo "regress_commits: unexpected argument '$1' (usage: A..B [--baseline F] [--store F])" >&2; exit 2 ;;
  esac
done
[ -n "$range" ] || { echo "regress_commits: give a range A..B" >&2; exit 2; }
A=$(git rev-parse --verify -q "${range%%..*}^{commit}") || { echo "regress_commits: ${range%%..*}: not a commit" >&2; exit 2; }
B=$(git rev-parse --verify -q "${range##*..}^{commit}") || { echo "regress_commits: ${range##*..}: not a commit" >&2; exit 2; }
mapfile -t C < <(git rev-list --reverse "$A..$B")
[ ${#C[@]} -gt 0 ] || { echo "regress_commits: $range holds no commits" >&2; exit 2; }
WORK=${WORK:-$ROOT/runs/regress_commits}
mkdir -p "$WORK"
BIN=$ROOT/mrcnn
make --no-print-directory -s mrcnn
DATA=$ROOT/data/synth_ci
[ -f "$DATA/val.json" ] || "$BIN" synth --preset ci --out "$DATA" >/dev/null
CFG=$ROOT/variants/configs/ci_fpn_mask.json
echo "regress_commits: ${#C[@]} commits after $(git rev-parse --short=12 "$A"), up to $(git rev-parse --short=12 "$B")"

# run COMMIT: build it in a worktree, train the set, leave RUNS under $WORK/<sha>
run_commit() {
  local sha=$1 short wt out
  short=$(git rev-parse --short=12 "$sha")
  out=$WORK/$short/runs/ci/ci_fpn_mask/seed1
  if [ -f "$out/metrics.json" ]; then echo "  $short: trained before, reused"; return 0; fi
  wt=$WORK/$short/tree
  [ -d "$wt" ] || git worktree add -q --detach "$wt" "$sha"
  echo "  $short: building ($(git log -1 --format=%s "$sha" | cut -c1-70))"
  if ! make -C "$wt" --no-print-directory -s -j2 mrcnn >"$WORK/$short/build.log" 2>&1; then
    echo "regress_commits: $short does not build (log: $WORK/$short/build.log)" >&2; return 2
  fi
  local st=()
  if "$wt/mrcnn" train --help 2>&1 | grep -q -- '--store'; then
    case "$store" in /*) st=(--store "$store") ;; *) st=(--store "$ROOT/$store") ;; esac
  fi
  if "$wt/mrcnn" train --help 2>&1 | grep -q -- '--name'; then st+=(--name ci_fpn_mask); fi
  mkdir -p "$out"
  echo "  $short: training the ci set"
  if ! (cd "$wt" && ./mrcnn train --config "$CFG" --data "$DATA" --out "$out" --seed 1 --threads 1 --quiet \
        "${st[@]}") >"$WORK/$short/train.log" 2>&1; then
    echo "regress_commits: $short: training failed (log: $WORK/$short/train.log)" >&2; return 2
  fi
}

# compare COMMIT against the baseline: 0 same, 1 moved
compare() {
  local short; short=$(git rev-parse --short=12 "$1")
  "$BIN" regress --set ci --compare-only --baseline "$BASE" --runs "$WORK/$short/runs" --data "$DATA" \
    --speed-tolerance 0 >"$WORK/$short/compare.md" 2>&1
}

if [ -n "$baseline" ]; then BASE=$baseline
else
  run_commit "$A" || exit 2
  short=$(git rev-parse --short=12 "$A")
  BASE=$WORK/$short/baseline.json
  "$BIN" regress --set ci --update --compare-only --baseline "$BASE" --runs "$WORK/$short/runs" --data "$DATA" >/dev/null
  echo "  baseline: $short's own numbers on this machine (exact comparison)"
fi

verdict() {   # index -> 0 same / 1 moved (cached)
  local i=$1 sha=${C[$1]} short rc
  short=$(git rev-parse --short=12 "$sha")
  if [ -f "$WORK/$short/verdict" ]; then return "$(cat "$WORK/$short/verdict")"; fi
  run_commit "$sha" || exit 2
  set +e; compare "$sha"; rc=$?; set -e
  [ $rc -le 1 ] || { echo "regress_commits: comparing $short failed:" >&2; cat "$WORK/$short/compare.md" >&2; exit 2; }
  echo "$rc" > "$WORK/$short/verdict"
  echo "  $short: $([ $rc = 0 ] && echo same || echo MOVED) ($(grep -E '^[0-9]+ of [0-9]+ numbers moved' "$WORK/$short/compare.md" | head -1))"
  return $rc
}

first=-1
if [ ${#C[@]} -le 4 ]; then
  for i in "${!C[@]}"; do if ! verdict "$i"; then first=$i; break; fi; done
else
  lo=-1; hi=$(( ${#C[@]} - 1 ))
  if verdict "$hi"; then first=-1
  else
    while [ $((hi - lo)) -gt 1 ]; do
      mid=$(( (lo + hi) / 2 ))
      if verdict "$mid"; then lo=$mid; else hi=$mid; fi
    done
    first=$hi
  fi
fi
if [ $first -lt 0 ]; then
  echo "regress_commits: nothing moved in $range"; exit 0
fi
short=$(git rev-parse --short=12 "${C[$first]}")
echo "regress_commits: first commit where a number moved: $short $(git log -1 --format=%s "${C[$first]}" | cut -c1-100)"
echo "  its comparison: $WORK/$short/compare.md"
exit 1
