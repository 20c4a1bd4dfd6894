#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the tests of `lm sweep --slurm`
# (test/integration/slurm.test.ts): munged, slurmctld and slurmd from Debian's slurm-wlm and munge,
# everything (key, config, spool, state, logs, pid files, munge socket) in a private state dir, so
# the machine's own /etc/munge and /etc/slurm are neither read nor changed.
#
#   scripts/slurm-cluster.sh start    start the daemons (if not running) and wait until the node is idle
#   scripts/slurm-cluster.sh stop     stop the daemons by their pid files
#   scripts/slurm-cluster.sh status   say what runs; exit 0 when the node answers, 1 otherwise
#   scripts/slurm-cluster.sh env      print `export SLURM_CONF=…` for the client commands (sbatch, squeue, …)
#
# Environment: LM_SLURM_DIR (state dir, default /tmp/lm-slurm), LM_SLURM_PORT (slurmctld's port,
# default 6817; slurmd uses the next one). Needs root (slurmd runs jobs as their users) and the
# packages `slurm-wlm munge`. All commands are idempotent.
set -euo pipefail

STATE="${LM_SLURM_DIR:-/tmp/lm-slurm}"
PORT="${LM_SLURM_PORT:-6817}"
CONF="$STATE/etc/slurm.conf"
MUNGE_DIR="$STATE/munge"
# The socket in its own dir: munged wants its dir open to all (x), the key's dir private.
MUNGE_SOCKET_DIR="$STATE/munge-socket"
MUNGE_SOCKET="$MUNGE_SOCKET_DIR/munge.socket"
MUNGE_PID="$MUNGE_DIR/munged.pid"
CTLD_PID="$STATE/run/slurmctld.pid"
SLURMD_PID="$STATE/run/slurmd.pid"
NODE="$(hostname -s)"
export SLURM_CONF="$CONF"

say() { printf 'slurm-cluster: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# The pid in FILE when that process is alive; nothing otherwise (a stale file from a crash or a
# reboot does not count).
live_pid() {
  local file="$1" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install Debian's packages: apt-get install -y slurm-wlm munge"
}

write_config() {
  mkdir -p "$STATE/etc" "$STATE/run" "$STATE/log" "$STATE/spool/slurmd" "$STATE/state"
  chmod 755 "$STATE" "$STATE/etc"
  local cpus mem_mb
  cpus="$(nproc)"
  # RealMemory a bit under the machine's: slurmd refuses a node that reports less than configured.
  mem_mb="$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)"
  cat >"$CONF.tmp" <<EOF
# Written by scripts/slurm-cluster.sh: a one-node test cluster, no accounting.
ClusterName=lmtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
# Plain process tracking and no task plugin: no cgroups needed (containers, CI machines).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmUser=root
SlurmdUser=root
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmdSpoolDir=$STATE/spool/slurmd
StateSaveLocation=$STATE/state
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmctldTimeout=30
SlurmdTimeout=30
# Small on purpose (Slurm's default is 1001): a sweep of more points than this needs several job
# arrays, and the tests run one.
MaxArraySize=6
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  chmod 644 "$CONF"
}

start_munge() {
  if live_pid "$MUNGE_PID" >/dev/null; then return; fi
  runuser -u munge -- test -x "$STATE" ||
    die "the munge user cannot reach $STATE: every folder above it must be searchable by others (chmod o+x)"
  mkdir -p "$MUNGE_DIR" "$MUNGE_SOCKET_DIR"
  chown munge:munge "$MUNGE_DIR" "$MUNGE_SOCKET_DIR"
  chmod 700 "$MUNGE_DIR"
  chmod 755 "$MUNGE_SOCKET_DIR"
  if [ ! -s "$MUNGE_DIR/munge.key" ]; then
    # 1 KiB of randomness, readable by munge alone (munged refuses a key others can read).
    (umask 077 && dd if=/dev/urandom of="$MUNGE_DIR/munge.key.tmp" bs=1024 count=1 status=none)
    mv "$MUNGE_DIR/munge.key.tmp" "$MUNGE_DIR/munge.key"
  fi
  chown munge:munge "$MUNGE_DIR/munge.key"
  chmod 400 "$MUNGE_DIR/munge.key"
  rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
  runuser -u munge -- munged \
    --key-file="$MUNGE_DIR/munge.key" \
    --socket="$MUNGE_SOCKET" \
    --pid-file="$MUNGE_PID" \
    --log-file="$MUNGE_DIR/munged.log" \
    --seed-file="$MUNGE_DIR/munged.seed" ||
    die "munged did not start: $(tail -n 5 "$MUNGE_DIR/munged.log" 2>/dev/null)"
  local i
  for i in $(seq 50); do
    [ -S "$MUNGE_SOCKET" ] && break
    sleep 0.1
  done
  [ -S "$MUNGE_SOCKET" ] || die "munged's socket $MUNGE_SOCKET did not appear"
}

start_daemon() {
  local name="$1" pidfile="$2"
  shift 2
  if live_pid "$pidfile" >/dev/null; then return; fi
  rm -f "$pidfile"
  "$name" "$@" || die "$name did not start: $(tail -n 5 "$STATE/log/$name.log" 2>/dev/null)"
}

node_state() {
  sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1
}

start() {
  [ "$(id -u)" -eq 0 ] || die "needs root (slurmd starts jobs as their users)"
  need munged
  need slurmctld
  need slurmd
  need sinfo
  write_config
  start_munge
  # -c: a clean start (no jobs or node states from an earlier test cluster in the state dir).
  if ! live_pid "$CTLD_PID" >/dev/null; then
    start_daemon slurmctld "$CTLD_PID" -f "$CONF" -c
  fi
  start_daemon slurmd "$SLURMD_PID" -f "$CONF" -N "$NODE"
  local i state=""
  for i in $(seq 150); do
    state="$(node_state || true)"
    case "$state" in
    idle | mixed | allocated) break ;;
    down* | drain*)
      # A node marked down by an earlier cluster in this state dir: bring it back.
      scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
      ;;
    esac
    sleep 0.2
  done
  case "$state" in
  idle | mixed | allocated) say "up: node $NODE $state (SLURM_CONF=$CONF)" ;;
  *)
    say "the node did not become idle (state: ${state:-none}); logs:"
    tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 2>/dev/null || true
    exit 1
    ;;
  esac
}

stop_pidfile() {
  local name="$1" pidfile="$2" pid i
  if pid="$(live_pid "$pidfile")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name ($pid) did not stop on SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

# Job steps (slurmstepd and the jobs under it) outlive slurmd: cancel every job of this cluster
# (all of them are tests') while the controller still answers, and wait a little for them to end.
cancel_jobs() {
  live_pid "$CTLD_PID" >/dev/null || return 0
  local jobs i
  jobs="$(squeue -h -t all -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')"
  [ -n "${jobs// /}" ] || return 0
  # shellcheck disable=SC2086 # one argument per job id
  scancel $jobs 2>/dev/null || true
  for i in $(seq 100); do
    [ -z "$(squeue -h -t running,completing -o '%A' 2>/dev/null)" ] && return 0
    sleep 0.1
  done
}

# A slurmstepd of this cluster still alive after its slurmd (found by its SLURM_CONF): ended by pid.
kill_orphan_steps() {
  local pid
  for pid in $(pgrep -x slurmstepd 2>/dev/null || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "SLURM_CONF=$CONF"; then
      say "slurmstepd $pid outlived slurmd: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

stop() {
  cancel_jobs
  # slurmd first (it ends the job steps it runs), then the controller, then munge.
  stop_pidfile slurmd "$SLURMD_PID"
  kill_orphan_steps
  stop_pidfile slurmctld "$CTLD_PID"
  stop_pidfile munged "$MUNGE_PID"
  say "stopped"
}

status() {
  local ok=0 name pidfile pid
  for name in munged slurmctld slurmd; do
    case "$name" in
    munged) pidfile="$MUNGE_PID" ;;
    slurmctld) pidfile="$CTLD_PID" ;;
    slurmd) pidfile="$SLURMD_PID" ;;
    esac
    if pid="$(live_pid "$pidfile")"; then
      printf '%s running (pid %s)\n' "$name" "$pid"
    else
      printf '%s not running\n' "$name"
      ok=1
    fi
  done
  if [ "$ok" -eq 0 ]; then
    printf 'node %s: %s\n' "$NODE" "$(node_state || echo unknown)"
  fi
  return "$ok"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
env) printf 'export SLURM_CONF=%q\n' "$CONF" ;;
*)
  echo "usage: $0 start|stop|status|env" >&2
  exit 2
  ;;
esac
