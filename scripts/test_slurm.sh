#!/usr/bin/env bash
# test_slurm.sh — `make test-slurm`: a real one-node Slurm on this machine
# (munge, slurmctld, slurmd on 127.0.0.1, one partition; no systemd), a
# small ablation sweep through it, checked against the same sweep run by
# the local scheduler, then the daemons stopped (by their PIDs).
#  1. 2c --preset tiny, RoIPool vs RoIAlign (ave), 1 seed, 30 iterations:
#     `mrcnn ablate --slurm --wait` (2 array tasks) and the local
#     `mrcnn ablate` (--jobs 2: the same 1 thread per run) give equal tables;
#  2. a second --slurm call finds nothing to submit and writes the table again;
#  3. a sweep on data with an undecodable image: both tasks fail, the
#     command exits 1 naming a log, and the table lists the runs as FAILED
#     with the paths of their logs.
# Needs root (it starts the daemons) and the Debian packages slurm-wlm munge
# (installed with apt-get when missing). The recipe: /work/shared/cluster
# (copied into this script; nothing here reads ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${MRCNN_BIN:-$ROOT/mrcnn}
[ "$(id -u)" = 0 ] || { echo "test-slurm: needs root (starts munged, slurmctld, slurmd)" >&2; exit 1; }
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  echo "test-slurm: installing slurm-wlm munge"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
T=$(mktemp -d /tmp/mrcnn-test-slurm-XXXXXX)
RUN=$T/daemons; mkdir -p "$RUN" "$T/spool/ctld" "$T/spool/d" "$T/log"
export SLURM_CONF=$T/slurm.conf
OURS_MUNGE=0
down() {
  for d in slurmd slurmctld munged; do
    f="$RUN/$d.pid"; [ -s "$f" ] || continue; p=$(cat "$f")
    if kill -0 "$p" 2>/dev/null; then
      kill -TERM "$p"
      for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p"
    fi
    rm -f "$f"
  done
}
cleanup() { rc=$?; down; if [ $rc = 0 ]; then rm -rf "$T"; else echo "test-slurm: FAILED (rc $rc); kept $T" >&2; fi; }
trap cleanup EXIT
fail() { echo "test-slurm: FAIL: $*" >&2; exit 1; }

# --- munge: use a running munged, else start ours ---
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F >"$RUN/munged.out" 2>&1 &
  echo $! >"$RUN/munged.pid"
  for i in $(seq 100); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge | grep -q 'STATUS: *Success' || { cat "$RUN/munged.out"; fail "munged did not start"; }
fi

# --- slurm.conf for this host, everything under $T ---
H=$(hostname -s)
MEM=$(( $(free -m | awk '/^Mem:/{print $2}') - 1024 ))
NODE=$(slurmd -C | head -1 | sed "s/RealMemory=[0-9]*/RealMemory=$MEM/")
cat >"$SLURM_CONF" <<CONF
ClusterName=mrcnntest
SlurmctldHost=${H}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile=$RUN/slurmctld.pidfile
SlurmdPidFile=$RUN/slurmd.pidfile
StateSaveLocation=$T/spool/ctld
SlurmdSpoolDir=$T/spool/d
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
MinJobAge=300
KillWait=5
InactiveLimit=0
Waittime=0
${NODE} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=main Nodes=${H} Default=YES MaxTime=INFINITE State=UP
CONF
/usr/sbin/slurmctld -D -c -f "$SLURM_CONF" >"$RUN/slurmctld.out" 2>&1 & echo $! >"$RUN/slurmctld.pid"
for i in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
/usr/sbin/slurmd -D -f "$SLURM_CONF" >"$RUN/slurmd.out" 2>&1 & echo $! >"$RUN/slurmd.pid"
for i in $(seq 300); do [ "$(sinfo -h -n "$H" -o %T 2>/dev/null)" = idle ] && break; sleep 0.1; done
[ "$(sinfo -h -n "$H" -o %T)" = idle ] || { sinfo -N; tail "$RUN"/slurm*.out; fail "node not idle"; }
echo "test-slurm: one-node Slurm up ($(sinfo -h -o '%P %D %T'))"

# --- the sweep, locally and through Slurm ---
D=$T/data
nice -n 5 "$BIN" synth --out "$D" --preset tiny >/dev/null
A=(2c --preset tiny --seeds 1 --iters 30 --rows roialign_ave --jobs 2 --threads 2 --no-store --data "$D")
nice -n 5 "$BIN" ablate "${A[@]}" --runs "$T/local" --results "$T/res_local" >"$T/local.out" 2>&1 \
  || { cat "$T/local.out"; fail "local sweep"; }
"$BIN" ablate "${A[@]}" --runs "$T/slurm" --results "$T/res_slurm" --slurm --partition main --time 10 --wait \
  >"$T/slurm.out" 2>&1 || { cat "$T/slurm.out"; fail "slurm sweep"; }
grep -q "submitted job" "$T/slurm.out" || { cat "$T/slurm.out"; fail "no job submitted"; }
J=$(cat "$T/slurm/tiny/slurm/2c/job_id")
for f in "$T"/slurm/tiny/2c/*/seed1/task_rc; do [ "$(cat "$f")" = 0 ] || fail "$f: task exit $(cat "$f")"; done
# the tables: equal numbers (the CSV) and equal Markdown but for the runs' folder
cmp "$T/res_local/2c/table_2c.csv" "$T/res_slurm/2c/table_2c.csv" || fail "the CSV tables differ"
diff <(sed "s#$T/local#RUNS#g" "$T/res_local/2c/table_2c.md") <(sed "s#$T/slurm#RUNS#g" "$T/res_slurm/2c/table_2c.md") \
  || fail "the Markdown tables differ"
for r in roipool roialign_ave; do
  cmp "$T/local/tiny/2c/$r/seed1/metrics.json" "$T/slurm/tiny/2c/$r/seed1/metrics.json" || fail "$r: metrics differ"
done
echo "test-slurm: job $J: table 2c through Slurm equals the local one"
# a second call: nothing left to submit, the table written again
"$BIN" ablate "${A[@]}" --runs "$T/slurm" --results "$T/res_slurm" --slurm >"$T/slurm2.out" 2>&1 \
  || { cat "$T/slurm2.out"; fail "second call"; }
grep -q "submitted job" "$T/slurm2.out" && fail "second call submitted again"
grep -q "table 2c written" "$T/slurm2.out" || { cat "$T/slurm2.out"; fail "second call wrote no table"; }

# --- failing tasks: an image whose body cannot be decoded ---
cp -r "$D" "$T/bad"
for f in "$T"/bad/images/*; do truncate -s 300 "$f"; done
B=("${A[@]}"); B[${#B[@]}-1]="$T/bad"
set +e
"$BIN" ablate "${B[@]}" --runs "$T/fail" --results "$T/res_fail" --slurm --wait >"$T/fail.out" 2>&1
rc=$?
set -e
[ $rc = 1 ] || { cat "$T/fail.out"; fail "failing sweep: exit $rc, expected 1"; }
grep -q "did not finish (first log: .*train.out)" "$T/fail.out" || { cat "$T/fail.out"; fail "no log named"; }
grep -q "FAILED (exit 1, log $T/fail/tiny/2c/roipool/seed1/train.out)" "$T/res_fail/2c/table_2c.md" \
  || { cat "$T/res_fail/2c/table_2c.md"; fail "the table does not list the failed run with its log"; }
grep -q "cannot decode image" "$T/fail/tiny/2c/roipool/seed1/train.out" || fail "the task's log lacks the cause"
echo "test-slurm: failed tasks listed in the table with their logs"
echo "test-slurm: PASS"
