#!/usr/bin/env bash
# A private single-node Slurm cluster for tests and for trying array jobs,
# entirely under one folder: it reads and writes no system configuration
# (/etc/slurm, /etc/munge, /var/spool/...), runs its own munged with its own
# key and socket, and listens on free, non-default ports.
#
#   tools/slurm/local_cluster.sh start DIR   # prints: export SLURM_CONF=...
#   eval "$(tools/slurm/local_cluster.sh env DIR)"
#   sbatch --wrap hostname; squeue; sinfo
#   tools/slurm/local_cluster.sh logs DIR [LINES]   # tails of the daemons' logs
#   tools/slurm/local_cluster.sh stop DIR
#
# start waits (bounded) until the node is idle, and fails with the logs'
# tails otherwise. stop cancels the cluster's jobs, then ends every process
# it started (munged, slurmctld, slurmd and any slurmstepd left behind).
# It needs slurm-wlm and munge (tools/setup.sh); run as root, the cluster
# runs jobs as root; run as another user, every daemon runs as that user.
set -euo pipefail

PATH="/usr/sbin:/sbin:$PATH"
readonly NODE=mdm-local
readonly START_TIMEOUT_S=${MDM_SLURM_START_TIMEOUT_S:-60}

usage() {
  echo "usage: $0 start|stop|status|env|logs DIR" >&2
  exit 2
}

log() { echo "local_cluster: $*" >&2; }

# The tail of every daemon's log under DIR, to explain a failure. The
# daemons' stderr (*.stderr) repeats their log, so it is shown only where
# the log itself is missing (a daemon that died before opening it).
cmd_logs() {
  local dir=$1 lines=${2:-40} f
  for f in "$dir"/log/munged.log "$dir"/log/slurmctld.log "$dir"/log/slurmd.log; do
    if [[ ! -s "$f" && -s "${f%.log}.stderr" ]]; then f=${f%.log}.stderr; fi
    [[ -s "$f" ]] || continue
    echo "----- tail of $f -----" >&2
    tail -n "$lines" "$f" >&2
  done
}

# Ports in use, from /proc/net (no ss or netstat needed).
used_ports() {
  local f
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r "$f" ]] || continue
    local line hex
    while read -r _ line _; do
      hex=${line##*:}
      [[ "$hex" =~ ^[0-9A-Fa-f]+$ ]] && echo $((16#$hex))
    done < <(tail -n +2 "$f")
  done | sort -un
}

# Two distinct free ports in [20000, 60000).
pick_ports() {
  local used candidate ports=()
  used=" $(used_ports | tr '\n' ' ') "
  while ((${#ports[@]} < 2)); do
    candidate=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ "$used" == *" $candidate "* ]] && continue
    [[ " ${ports[*]:-} " == *" $candidate "* ]] && continue
    ports+=("$candidate")
  done
  echo "${ports[@]}"
}

# A running process (a zombie waiting for its parent to reap it is not).
pid_alive() {
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat:0:1}" != Z ]]
}

read_pid() { [[ -s "$1" ]] && cat "$1" || true; }

# This shell and its ancestors, never to be killed by stop.
ancestors() {
  local p=$BASHPID stat
  while [[ -n "$p" && "$p" != 0 ]]; do
    echo "$p"
    stat=$(cat "/proc/$p/stat" 2>/dev/null) || break
    stat=${stat##*) }  # After "pid (comm) ": state ppid ...
    p=$(cut -d' ' -f2 <<<"$stat")
  done
}

# The processes of the cluster under DIR: those whose environment carries
# its marker (the daemons and the slurmstepds they spawn, which detach from
# slurmd) and its jobs' processes (SLURM_JOB_ID set, SLURM_CONF ours).
cluster_pids() {
  local dir=$1 base=${2:-$1} p env mine
  mine=" $(ancestors | tr '\n' ' ') "
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ "$mine" == *" $p "* ]] && continue
    env=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ") || continue
    if grep -qxF "MDM_LOCAL_SLURM_DIR=$dir" <<<"$env" ||
       { grep -q '^SLURM_JOB_ID=' <<<"$env" &&
         grep -qxE "SLURM_CONF=($dir|$base)/etc/slurm.conf" <<<"$env"; }; then
      echo "$p"
    fi
  done
}

cmd_env() {
  local dir=$1
  [[ -f "$dir/etc/slurm.conf" ]] || { log "no cluster under $dir"; exit 1; }
  echo "export SLURM_CONF=$dir/etc/slurm.conf"
}

cmd_start() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)

  local name
  for name in munged slurmctld slurmd; do
    if pid_alive "$(read_pid "$dir/run/$name.pid")"; then
      log "a cluster is already running under $dir (stop it first)"
      exit 1
    fi
  done
  for tool in munged slurmctld slurmd sinfo scontrol; do
    command -v "$tool" >/dev/null ||
      { log "$tool not found: install slurm-wlm and munge (tools/setup.sh)"; exit 1; }
  done

  # Unix sockets (munged's, slurmstepd's under the spool folder) must have
  # paths under ~100 bytes: reach a long DIR through a short link in /tmp.
  local base=$dir
  if ((${#dir} > 40)); then
    base=$(mktemp -u /tmp/mdm-slurm.XXXXXX)
    ln -s "$dir" "$base"
    echo "$base" >"$dir/short_link"
  fi

  mkdir -p "$dir"/{etc,log,run,state,spool,munge}
  chmod 700 "$dir/state" "$dir/spool"
  chmod 755 "$dir/munge"  # Clients must reach the socket; the key is 0400.
  rm -f "$dir"/log/* "$dir"/run/*.pid

  local user ports ctld_port slurmd_port cpus mem
  user=$(id -un)
  read -r ctld_port slurmd_port <<<"$(pick_ports)"
  # The node as slurmd itself sees it, so it registers as valid.
  local hw
  hw=$(slurmd -C | head -n 1)
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  local layout
  layout=$(grep -o 'Boards=[0-9]* SocketsPerBoard=[0-9]* CoresPerSocket=[0-9]* ThreadsPerCore=[0-9]*' <<<"$hw" || true)
  [[ -n "$cpus" && -n "$mem" ]] || { log "cannot parse 'slurmd -C': $hw"; exit 1; }

  : >"$dir/etc/plugstack.conf"  # No site SPANK plugins.
  cat >"$dir/etc/slurm.conf" <<EOF
# Written by tools/slurm/local_cluster.sh: a private single-node cluster.
ClusterName=mdm-local
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$base/munge/munge.socket
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.daemon.pid
SlurmdPidFile=$base/run/slurmd.daemon.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$base/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
InactiveLimit=0
KillWait=5
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$cpus $layout RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

  export SLURM_CONF="$dir/etc/slurm.conf"
  # Marks every process of this cluster for `stop`.
  export MDM_LOCAL_SLURM_DIR="$dir"

  # munged: a fresh key, its own socket; --force lets it run as root and
  # accept folders it would otherwise find too permissive.
  if [[ ! -s "$dir/munge/munge.key" ]]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
  fi
  local force=()
  [[ $(id -u) -eq 0 ]] && force=(--force)
  nohup munged --foreground "${force[@]}" \
    --socket="$base/munge/munge.socket" \
    --key-file="$base/munge/munge.key" \
    --pid-file="$base/run/munged.daemon.pid" \
    --seed-file="$base/munge/munged.seed" \
    </dev/null >>"$dir/log/munged.log" 2>&1 &
  echo $! >"$dir/run/munged.pid"
  wait_for "munged socket" 10 test -S "$dir/munge/munge.socket" || fail "$dir"

  nohup slurmctld -D -f "$SLURM_CONF" \
    </dev/null >>"$dir/log/slurmctld.stderr" 2>&1 &
  echo $! >"$dir/run/slurmctld.pid"
  nohup slurmd -D -N "$NODE" -f "$SLURM_CONF" \
    </dev/null >>"$dir/log/slurmd.stderr" 2>&1 &
  echo $! >"$dir/run/slurmd.pid"

  wait_for "node $NODE idle" "$START_TIMEOUT_S" node_idle || fail "$dir"
  log "up: node $NODE ($cpus CPUs, ${mem} MB), slurmctld port $ctld_port, slurmd port $slurmd_port"
  echo "export SLURM_CONF=$SLURM_CONF"
}

node_idle() {
  local pid
  for pid in munged slurmctld slurmd; do
    pid_alive "$(read_pid "$MDM_LOCAL_SLURM_DIR/run/$pid.pid")" ||
      { log "$pid exited"; return 2; }
  done
  [[ "$(sinfo -h -N -n "$NODE" -o %t 2>/dev/null)" == idle ]]
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 0.5 s; status 2
# from it means give up at once.
wait_for() {
  local what=$1 timeout=$2 rc
  shift 2
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    rc=0
    "$@" || rc=$?
    ((rc == 0)) && return 0
    ((rc == 2)) && break
    sleep 0.5
  done
  log "timed out or failed waiting for $what (${timeout}s)"
  return 1
}

fail() {
  local dir=$1
  cmd_logs "$dir"
  cmd_stop "$dir" || true
  exit 1
}

cmd_stop() {
  local dir=$1
  [[ -d "$dir" ]] || { log "no cluster under $dir"; return 0; }
  dir=$(cd "$dir" && pwd -P)
  export SLURM_CONF="$dir/etc/slurm.conf"
  unset MDM_LOCAL_SLURM_DIR

  # Cancel jobs first so slurmstepd ends their processes: only while all
  # daemons run (else nothing would end them) and briefly (a test's harness
  # allows ~15 s between TERM and KILL); whatever is left is killed below.
  if [[ -f "$SLURM_CONF" ]] && pid_alive "$(read_pid "$dir/run/slurmctld.pid")" &&
     pid_alive "$(read_pid "$dir/run/slurmd.pid")" &&
     pid_alive "$(read_pid "$dir/run/munged.pid")"; then
    local jobs
    jobs=$(timeout 3 squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [[ -n "${jobs// /}" ]]; then
      # shellcheck disable=SC2086
      timeout 3 scancel $jobs 2>/dev/null || true
      local i
      for ((i = 0; i < 10; i++)); do
        [[ -z "$(timeout 2 squeue -h -o %A 2>/dev/null || echo unknown)" ]] && break
        sleep 0.5
      done
    fi
  fi

  local base=$dir
  [[ -f "$dir/short_link" ]] && base=$(cat "$dir/short_link")
  local name pid pids=()
  for name in slurmd slurmctld munged; do
    pid=$(read_pid "$dir/run/$name.pid")
    pid_alive "$pid" && pids+=("$pid")
  done
  # Anything else of this cluster's (slurmstepd and jobs it left behind).
  local p
  for p in $(cluster_pids "$dir" "$base"); do
    [[ " ${pids[*]:-} " == *" $p "* ]] || pids+=("$p")
  done
  if ((${#pids[@]} > 0)); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local i alive
    for ((i = 0; i < 20; i++)); do
      alive=()
      for pid in "${pids[@]}"; do pid_alive "$pid" && alive+=("$pid"); done
      ((${#alive[@]} == 0)) && break
      sleep 0.25
    done
    if ((${#alive[@]} > 0)); then
      log "killing stragglers: ${alive[*]}"
      kill -KILL "${alive[@]}" 2>/dev/null || true
    fi
  fi
  # Whatever was started meanwhile (a step forking as it was stopped).
  mapfile -t pids < <(cluster_pids "$dir" "$base")
  if ((${#pids[@]} > 0)); then
    log "killing late processes: ${pids[*]}"
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  rm -f "$dir"/run/*.pid "$base"/munge/munge.socket*
  if [[ -f "$dir/short_link" ]]; then
    rm -f "$(cat "$dir/short_link")" "$dir/short_link"
  fi
  log "stopped cluster under $dir"
}

cmd_status() {
  local dir=$1
  [[ -f "$dir/etc/slurm.conf" ]] || { log "no cluster under $dir"; exit 1; }
  SLURM_CONF="$dir/etc/slurm.conf" sinfo
  SLURM_CONF="$dir/etc/slurm.conf" squeue
}

(($# >= 2)) || usage
case "$1" in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  status) cmd_status "$2" ;;
  env) cmd_env "$2" ;;
  logs) cmd_logs "$2" "${3:-40}" ;;
  *) usage ;;
esac
