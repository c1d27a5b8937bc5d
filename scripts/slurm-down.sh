#!/usr/bin/env bash
# Stop the one-node Slurm cluster that scripts/slurm-up.sh started: only the daemons named by its pid files.
#
#   bash scripts/slurm-down.sh           # stop the daemons, keep the state folder (jobs and accounting kept together)
#   bash scripts/slurm-down.sh --purge   # stop them and delete the state folder (job ids start again at 1)
set -euo pipefail

STATE="${GWASFLOW_SLURM_DIR:-/tmp/gwasflow-slurm}"
purge=0
[[ "${1:-}" == "--purge" ]] && purge=1

stop() {  # stop NAME PIDFILE: TERM the pid in PIDFILE if it is a NAME process, wait up to 15 s, then KILL
    local pidfile="$2" pid
    [[ -s "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" ]]; then  # not a reused pid
        echo "slurm-down: stopping $1 ($pid)" >&2
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

for daemon in slurmd slurmctld slurmdbd; do stop "$daemon" "$STATE/run/$daemon.pid"; done
stop mariadbd "$STATE/mysql/mariadbd.pid"
stop munged "$STATE/run/munged.pid"  # only if slurm-up.sh started it (a system munged has no pid file here)
if ((purge)); then
    rm -rf "$STATE"
    echo "slurm-down: removed $STATE" >&2
fi
