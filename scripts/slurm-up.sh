#!/usr/bin/env bash
# Bring up a one-node Slurm cluster on this machine, without systemd, for gwasflow's tests and CI.
#
#   bash scripts/slurm-up.sh            # prints the slurm.conf path (export it as SLURM_CONF) on its last line
#
# What it runs, all under one state folder ($GWASFLOW_SLURM_DIR, default /tmp/gwasflow-slurm), each with a pid file:
#   munged     on the default socket, unless a munged already answers there (then that one is used and left alone)
#   mariadbd   its own data folder, listening on 127.0.0.1:$GWASFLOW_SLURM_DB_PORT only (for slurmdbd)
#   slurmdbd   job accounting, so that `sacct` reports every array task with state, exit code and usage
#   slurmctld, slurmd   one node named after this host, CPUs and memory from `slurmd -C`
# Jobs are confined by cgroup v1 (memory limits are real: a job over --mem ends OUT_OF_MEMORY) when the memory
# controller is mounted at /sys/fs/cgroup/memory; otherwise process tracking falls back to linuxproc.
#
# Idempotent: daemons already running (per their pid files) are kept; a second call returns in well under a second.
# Needs root to install packages and start daemons. `scripts/slurm-down.sh` stops what this started.
set -euo pipefail

STATE="${GWASFLOW_SLURM_DIR:-/tmp/gwasflow-slurm}"
DB_PORT="${GWASFLOW_SLURM_DB_PORT:-33061}"
CTLD_PORT="${GWASFLOW_SLURMCTLD_PORT:-6817}"
SLURMD_PORT="${GWASFLOW_SLURMD_PORT:-6818}"
DBD_PORT="${GWASFLOW_SLURMDBD_PORT:-6819}"
CLUSTER=gwasflow
CONF="$STATE/etc/slurm.conf"
export SLURM_CONF="$CONF"

log() { echo "slurm-up: $*" >&2; }
die() { echo "slurm-up: error: $*" >&2; exit 1; }

alive() {  # alive PIDFILE: the pid in the file names a running process of the file's name (not a reused pid)
    local pid
    [[ -s "$1" ]] && pid="$(cat "$1")" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$(basename "$1" .pid)" ]]
}

wait_for() {  # wait_for SECONDS WHAT COMMAND...: retry COMMAND every 0.1 s
    local deadline=$((SECONDS + $1)) limit=$1 what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what not ready after ${limit} s; see the logs in $STATE/log and $STATE/mysql"
        sleep 0.1
    done
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

node_idle() {
    [[ "$(sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null)" =~ ^(idle|mix|alloc)$ ]]
}

NODE="$(hostname -s)"

# Fast path: everything up already.
if munge_ok && alive "$STATE/mysql/mariadbd.pid" && alive "$STATE/run/slurmdbd.pid" \
    && alive "$STATE/run/slurmctld.pid" && alive "$STATE/run/slurmd.pid" && node_idle; then
    echo "$CONF"
    exit 0
fi

[[ "$(id -u)" == 0 ]] || die "must run as root to install packages and start daemons (state folder: $STATE)"

# -- packages -----------------------------------------------------------------------------------------------------
PACKAGES=(slurmctld slurmd slurm-client slurmdbd munge mariadb-server)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

mkdir -p "$STATE"/{etc,run,log,spool/ctld,spool/d,munge,mysql}
chmod 755 "$STATE" "$STATE"/{etc,run,log}

# -- munge --------------------------------------------------------------------------------------------------------
# The default socket: Slurm's clients talk to it whatever AuthInfo says (sacctmgr does, in 22.05). A munged already
# answering there (a system one) is used as it is; otherwise ours is started, its pid file in the state folder.
if ! munge_ok; then
    [[ -s /etc/munge/munge.key ]] || { mungekey --create --keyfile=/etc/munge/munge.key >&2 && chown munge: /etc/munge/munge.key; }
    install -d -o munge -g munge -m 755 /run/munge
    touch "$STATE/run/munged.pid" "$STATE/log/munged.log"
    chown munge: "$STATE/run/munged.pid" "$STATE/log/munged.log" "$STATE/munge"
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
        --seed-file="$STATE/munge/munged.seed" </dev/null >&2
    wait_for 10 munged munge_ok
fi

# -- MariaDB for slurmdbd -----------------------------------------------------------------------------------------
DB_SOCKET="$STATE/mysql/mysqld.sock"
if ! alive "$STATE/mysql/mariadbd.pid"; then
    chown mysql: "$STATE/mysql"
    if [[ ! -d "$STATE/mysql/data/mysql" ]]; then
        log "initialising the accounting database"
        mariadb-install-db --user=mysql --datadir="$STATE/mysql/data" --auth-root-authentication-method=socket \
            --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1 || die "mariadb-install-db failed: $STATE/log/mariadb-install.log"
    fi
    log "starting mariadbd"
    setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$STATE/mysql/data" --socket="$DB_SOCKET" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --pid-file="$STATE/mysql/mariadbd.pid" \
        --log-error="$STATE/mysql/mariadbd.log" --innodb-buffer-pool-size=64M --skip-log-bin \
        </dev/null >/dev/null 2>&1 &
    wait_for 30 mariadbd mariadb-admin --socket="$DB_SOCKET" ping
    mariadb --socket="$DB_SOCKET" -u root <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'gwasflow';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
    wait_for 10 "mariadbd pid file" test -s "$STATE/mysql/mariadbd.pid"
fi

# -- configuration ------------------------------------------------------------------------------------------------
read -r CPUS MEMORY < <(slurmd -C | sed -n 's/.*CPUs=\([0-9]*\).*RealMemory=\([0-9]*\).*/\1 \2/p')
[[ -n "${CPUS:-}" && -n "${MEMORY:-}" ]] || die "cannot read CPUs and RealMemory from 'slurmd -C'"
if [[ -d /sys/fs/cgroup/memory ]]; then
    CONFINE="ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
JobAcctGatherType=jobacct_gather/cgroup"
else  # no cgroup v1 memory controller: no real memory limit; OverMemoryKill kills jobs sampled over --mem
    CONFINE="ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill"
fi

write_if_changed() {  # write_if_changed FILE MODE: stdin to FILE, only if the text differs
    local tmp
    tmp="$(mktemp "$1.XXXXXX")"
    cat >"$tmp"
    chmod "$2" "$tmp"
    if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

write_if_changed "$CONF" 644 <<EOF
# written by gwasflow scripts/slurm-up.sh
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MinJobAge=300
KillWait=5
InactiveLimit=0
$CONFINE
JobAcctGatherFrequency=task=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
JobCompType=jobcomp/none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

write_if_changed "$STATE/etc/cgroup.conf" 644 <<EOF
CgroupPlugin=cgroup/v1
CgroupMountpoint=/sys/fs/cgroup
ConstrainRAMSpace=yes
EOF

write_if_changed "$STATE/etc/slurmdbd.conf" 600 <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=gwasflow
StorageLoc=slurm_acct_db
EOF

# -- slurmdbd, slurmctld, slurmd ----------------------------------------------------------------------------------
if ! alive "$STATE/run/slurmdbd.pid"; then
    log "starting slurmdbd"
    rm -f "$STATE/run/slurmdbd.pid"
    slurmdbd </dev/null >>"$STATE/log/slurmdbd.out" 2>&1
    wait_for 30 slurmdbd sacctmgr --noheader list cluster
    if [[ -z "$(sacctmgr --noheader --parsable2 list cluster format=Cluster where cluster=$CLUSTER)" ]]; then
        sacctmgr -i add cluster "$CLUSTER" >&2
    fi
fi
if ! alive "$STATE/run/slurmctld.pid"; then
    log "starting slurmctld"
    rm -f "$STATE/run/slurmctld.pid"
    slurmctld </dev/null >>"$STATE/log/slurmctld.out" 2>&1
    wait_for 30 slurmctld scontrol ping
fi
if ! alive "$STATE/run/slurmd.pid"; then
    log "starting slurmd"
    rm -f "$STATE/run/slurmd.pid"
    slurmd -N "$NODE" </dev/null >>"$STATE/log/slurmd.out" 2>&1
fi
wait_for 30 "node $NODE idle" node_idle
for f in slurmctld slurmd slurmdbd; do wait_for 10 "$f pid file" alive "$STATE/run/$f.pid"; done
log "node $NODE is up (${CPUS} CPUs, ${MEMORY} MB); export SLURM_CONF=$CONF"
echo "$CONF"
