#!/usr/bin/env bash
# Stop the one-node Slurm cluster that scripts/slurm-up.sh started: only the daemons named by its pid files.
#
#   bash scripts/slurm-down.sh           # stop the daemons, keep the state folder (jobs and accounting kept together)
#   bash scripts/slurm-down.sh --purge   # stop them and delete the state folder (job ids start again at 1)
set -euo pipefail

STATE="${GWASFLOW_SLURM_DIR:-/tmp/gwasflow-slurm}"
purge=0
[[ "${1:-}" == "--purge" ]] && purge=1

stop() {  # stop NAME: TERM the pid in $STATE/run/NAME.pid, wait up to 15 s, then KILL
    local pidfile="$STATE/run/$1.pid" pid
    [[ -s "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
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

for daemon in slurmd slurmctld slurmdbd; do stop "$daemon"; done
stop ../mysql/mariadbd
stop munged
if ((purge)); then
    rm -rf "$STATE"
    echo "slurm-down: removed $STATE" >&2
fi
