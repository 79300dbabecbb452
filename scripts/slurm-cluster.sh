#!/usr/bin/env bash
# slurm-cluster.sh - install, start, stop and check a real one-node Slurm
# cluster on localhost.
#
# Why this exists: b2core runs luigi workflows on batch systems, and its CI and
# integration tests have to talk to a genuine Slurm (sbatch, squeue, scancel,
# sacct answered by real daemons), not to a mock.  Test machines (CI VMs and
# containers) have no systemd, so this script installs Slurm, munge and, by
# default, slurmdbd + MariaDB from the Debian archive and runs the daemons
# directly, as root, on one machine.  Written for Debian 12 (Slurm 22.05).
#
# Usage: scripts/slurm-cluster.sh [start|stop|status|help]
#
#   start   (default) install missing packages, write the configuration,
#           start whatever is not running yet, wait until the node is usable
#           and sacct answers, then print a one-line summary.  Idempotent: with
#           everything already running and the configuration unchanged it only
#           checks and returns (well under a second).  If the configuration
#           changed (e.g. another SLURM_LOCAL_CPUS), slurmctld and slurmd are
#           restarted; running jobs survive that, except that Slurm aborts and
#           requeues jobs on the node when its CPU count changes.
#   stop    cancel every job in the partition, wait for the queue to empty,
#           then stop the daemons this script started (found by PID file in
#           /run/slurm-local/; nothing is ever killed by process name).
#   status  exit 0 if the controller answers, the node is idle/mixed/allocated
#           and (with accounting) sacct answers; non-zero otherwise.
#
# Environment (read by `start`, which applies it every time: a plain `start`
# after `SLURM_LOCAL_CPUS=4 ... start` goes back to 16 CPUs; `stop` and
# `status` follow the written config):
#   SLURM_LOCAL_CPUS          CPUs the node advertises (default 16; more than the
#                             machine has is fine, via config_overrides: test
#                             jobs are short and mostly wait for Slurm, so 16
#                             slots keep 2 real cores busy; 300 one-second
#                             b2core jobs take ~90 s instead of ~120 s with 4)
#   SLURM_ACCOUNTING          dbd (default: slurmdbd + MariaDB, full sacct) or
#                             none (no database; sacct is unavailable, finished
#                             jobs are appended to /var/log/slurm/jobcomp.log)
#   SLURM_LOCAL_MIN_JOB_AGE   MinJobAge in seconds (default 300; 0 = never purge)
#   SLURM_LOCAL_PARTITION     partition name (default debug)
#   SLURM_CGROUP              1 = proctrack/task cgroup plugins with
#                             CR_CPU_Memory (memory limits enforced); default 0
#   SLURM_LOCAL_TIMEOUT       seconds to wait for each daemon (default 60)
#
# Files: /etc/slurm/{slurm.conf,slurmdbd.conf,cgroup.conf}, PID files and lock
# in /run/slurm-local/, logs in /var/log/slurm/ (munged: /var/log/munge/).

set -euo pipefail
umask 022
export LC_ALL=C

readonly RUN_DIR=/run/slurm-local
readonly LOG_DIR=/var/log/slurm
readonly CONF_DIR=/etc/slurm
readonly SLURM_CONF_FILE=$CONF_DIR/slurm.conf
readonly DBD_CONF_FILE=$CONF_DIR/slurmdbd.conf
readonly CGROUP_CONF_FILE=$CONF_DIR/cgroup.conf
readonly CTLD_PID=$RUN_DIR/slurmctld.pid
readonly SLURMD_PID=$RUN_DIR/slurmd.pid
readonly DBD_PID=$RUN_DIR/slurmdbd.pid
readonly MARIADB_PID=$RUN_DIR/mariadbd.pid
readonly MUNGE_PID_DIR=$RUN_DIR/munge
readonly MUNGE_PID=$MUNGE_PID_DIR/munged.pid
readonly LOCK_FILE=$RUN_DIR/lock
readonly POLICY_RC=/usr/sbin/policy-rc.d
readonly CLUSTER_NAME=localcluster
readonly DB_NAME=slurm_acct_db
readonly DB_USER=slurm
readonly MARKER="# Written by b2core scripts/slurm-cluster.sh; rewritten on every start."
# Daemons get a clean environment, so nothing from the caller (CI variables, a
# stray SLURM_CONF, PYTHONPATH ...) leaks into them.
readonly DAEMON_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

export SLURM_CONF=$SLURM_CONF_FILE

CPUS=${SLURM_LOCAL_CPUS:-16}
ACCOUNTING=${SLURM_ACCOUNTING:-dbd}
MIN_JOB_AGE=${SLURM_LOCAL_MIN_JOB_AGE:-300}
PARTITION=${SLURM_LOCAL_PARTITION:-debug}
CGROUP=${SLURM_CGROUP:-0}
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}

T0=$EPOCHREALTIME
CREATED_POLICY_RC=0
NODE=
MEMORY_MB=
DB_PASS=

log() { printf 'slurm-cluster: %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    exit 1
}

elapsed() { awk -v s="$T0" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }'; }

cleanup() {
    if ((CREATED_POLICY_RC)); then
        rm -f "$POLICY_RC"
    fi
}
trap cleanup EXIT

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
}

# Print the last lines of each existing log file given, for loud failures.
show_logs() {
    local f
    for f in "$@"; do
        if [[ -s $f ]]; then
            printf '\n----- last 30 lines of %s -----\n' "$f" >&2
            tail -n 30 "$f" >&2
            printf -- '----- end of %s -----\n' "$f" >&2
        else
            log "(log $f is missing or empty)"
        fi
    done
}

# pid_of PIDFILE COMM: print the PID recorded in PIDFILE if that process is
# alive, not a zombie, and really is COMM (guards against reused PIDs).
pid_of() {
    local file=$1 comm=$2 pid stat
    [[ -r $file ]] || return 1
    pid=$(<"$file") || return 1
    pid=${pid//[[:space:]]/}
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm ]] || return 1
    [[ $(<"/proc/$pid/comm") == "$comm" ]] || return 1
    stat=$(<"/proc/$pid/stat") || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

# wait_until DESCRIPTION TIMEOUT PIDFILE COMM LOGS -- COMMAND...
# Poll COMMAND until it succeeds.  Fail loudly (log tails, exit 1) on timeout
# or as soon as the daemon behind PIDFILE/COMM dies (PIDFILE may be "").
wait_until() {
    local desc=$1 timeout=$2 pidfile=$3 comm=$4 logs=$5
    shift 6
    local deadline=$((SECONDS + timeout)) grace=$((SECONDS + 5))
    local -a logfiles
    read -r -a logfiles <<<"$logs"
    until "$@" >/dev/null 2>&1; do
        if [[ -n $pidfile ]] && ((SECONDS > grace)) && ! pid_of "$pidfile" "$comm"; then
            show_logs "${logfiles[@]}"
            die "$comm died (or never wrote $pidfile) while waiting for $desc"
        fi
        if ((SECONDS >= deadline)); then
            show_logs "${logfiles[@]}"
            die "timed out after ${timeout}s waiting for $desc"
        fi
        sleep 0.2
    done
}

# stop_daemon NAME PIDFILE COMM TIMEOUT LOG: SIGTERM the recorded process and
# wait; SIGKILL (loudly) on timeout.  Returns 1 if SIGKILL was needed.
stop_daemon() {
    local name=$1 pidfile=$2 comm=$3 timeout=$4 logfile=$5 pid deadline
    if ! pid_of "$pidfile" "$comm"; then
        rm -f "$pidfile"
        return 0
    fi
    pid=$(<"$pidfile")
    pid=${pid//[[:space:]]/}
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + timeout))
    while pid_of "$pidfile" "$comm"; do
        if ((SECONDS >= deadline)); then
            show_logs "$logfile"
            log "ERROR: $name (pid $pid) did not exit within ${timeout}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            rm -f "$pidfile"
            return 1
        fi
        sleep 0.1
    done
    rm -f "$pidfile"
}

take_lock() {
    if ((EUID == 0)); then
        mkdir -p "$RUN_DIR"
        exec 9>"$LOCK_FILE"
    elif [[ -r $LOCK_FILE ]]; then
        exec 9<"$LOCK_FILE" # lets a non-root caller run the fast checks
    else
        die "$1 must run as root"
    fi
    flock -w 600 9 || die "could not lock $LOCK_FILE within 600 s"
}

validate_settings() {
    [[ $CPUS =~ ^[1-9][0-9]*$ ]] || die "SLURM_LOCAL_CPUS must be a positive integer, not '$CPUS'"
    [[ $MIN_JOB_AGE =~ ^[0-9]+$ ]] || die "SLURM_LOCAL_MIN_JOB_AGE must be an integer, not '$MIN_JOB_AGE'"
    [[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "SLURM_LOCAL_TIMEOUT must be a positive integer, not '$TIMEOUT'"
    [[ $PARTITION =~ ^[A-Za-z0-9_-]+$ ]] || die "SLURM_LOCAL_PARTITION '$PARTITION' is not a valid name"
    case $ACCOUNTING in dbd | none) ;; *) die "SLURM_ACCOUNTING must be 'dbd' or 'none', not '$ACCOUNTING'" ;; esac
    case $CGROUP in 0 | 1) ;; *) die "SLURM_CGROUP must be 0 or 1, not '$CGROUP'" ;; esac
}

detect_host() {
    NODE=$(hostname -s 2>/dev/null || true)
    [[ -n $NODE ]] || NODE=$(uname -n)
    NODE=${NODE%%.*}
    local kb
    kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
    # Round down to 64 MiB so small fluctuations never look like a config change.
    MEMORY_MB=$((kb / 1024 / 64 * 64))
}

# Keep the database password across runs (it lives only in slurmdbd.conf).
load_db_password() {
    if [[ -r $DBD_CONF_FILE ]]; then
        DB_PASS=$(sed -n 's/^StoragePass=//p' "$DBD_CONF_FILE" | head -n 1)
    fi
    if ! [[ $DB_PASS =~ ^[A-Za-z0-9]{12,}$ ]]; then
        DB_PASS=$(head -c 64 /dev/urandom | base64 -w 0 | tr -dc 'A-Za-z0-9' | head -c 24)
    fi
}

render_slurm_conf() {
    cat <<EOF
$MARKER
ClusterName=$CLUSTER_NAME
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
MinJobAge=$MIN_JOB_AGE
MaxArraySize=10001
MaxJobCount=100000
EOF
    if ((CGROUP)); then
        cat <<EOF
ProctrackType=proctrack/cgroup
TaskPlugin=task/cgroup
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=512
EOF
    else
        cat <<EOF
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectTypeParameters=CR_CPU
EOF
    fi
    if [[ $ACCOUNTING == dbd ]]; then
        cat <<EOF
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobCompType=jobcomp/none
EOF
    else
        cat <<EOF
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG_DIR/jobcomp.log
EOF
    fi
    cat <<EOF
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

render_dbd_conf() {
    cat <<EOF
$MARKER
AuthType=auth/munge
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$DBD_PID
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
}

render_cgroup_conf() {
    cat <<EOF
$MARKER
CgroupPlugin=autodetect
ConstrainCores=yes
ConstrainRAMSpace=yes
ConstrainSwapSpace=no
EOF
}

# same_content FILE TEXT: does FILE hold exactly TEXT (plus final newline)?
same_content() {
    [[ -r $1 ]] && [[ $(<"$1") == "$2" ]]
}

# write_file FILE MODE TEXT: atomic replace.
write_file() {
    local file=$1 mode=$2 text=$3 tmp
    tmp=$(mktemp "$file.XXXXXX")
    printf '%s\n' "$text" >"$tmp"
    chmod "$mode" "$tmp"
    mv -f "$tmp" "$file"
}

node_state() {
    timeout 15 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n 1
}

node_usable() {
    local state
    state=$(node_state) || return 1
    case $state in
    idle | mixed | allocated | completing | planned) return 0 ;;
    *) return 1 ;;
    esac
}

sacct_answers() {
    timeout 15 sacct -n -X -S now -o JobID >/dev/null 2>&1
}

cluster_registered() {
    timeout 15 sacctmgr -n -P list cluster format=Cluster 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

munge_works() {
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1
}

mariadb_answers() {
    timeout 10 mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1
}

slurm_version() {
    sinfo -V 2>/dev/null | awk '{ print $2 }'
}

summary() {
    local what=$1
    printf 'slurm-cluster: %s in %ss: cluster %s, node %s (%s CPUs, %s MB), partition %s, accounting %s, Slurm %s\n' \
        "$what" "$(elapsed)" "$CLUSTER_NAME" "$NODE" "$CPUS" "$MEMORY_MB" "$PARTITION" "$ACCOUNTING" "$(slurm_version)"
}

# ---------------------------------------------------------------- packages --

pkg_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

ensure_packages() {
    local -a wanted=(slurm-wlm slurmctld slurmd slurm-client munge) missing=()
    local p
    if [[ $ACCOUNTING == dbd ]]; then
        wanted+=(slurmdbd mariadb-server mariadb-client)
    fi
    for p in "${wanted[@]}"; do
        pkg_installed "$p" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    ((EUID == 0)) || die "packages missing (${missing[*]}) and not running as root"
    log "installing ${missing[*]} (apt-get)"
    # Keep the maintainer scripts from starting daemons (there is no systemd,
    # and this script starts them itself).
    if [[ ! -e $POLICY_RC ]]; then
        printf '#!/bin/sh\n# temporary, from scripts/slurm-cluster.sh\nexit 101\n' >"$POLICY_RC"
        chmod 755 "$POLICY_RC"
        CREATED_POLICY_RC=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq 9>&- ||
        die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}" 9>&- >"$RUN_DIR/apt.log" 2>&1 || {
        tail -n 40 "$RUN_DIR/apt.log" >&2
        die "apt-get install ${missing[*]} failed (full output: $RUN_DIR/apt.log)"
    }
    cleanup
    CREATED_POLICY_RC=0
}

# ----------------------------------------------------------------- daemons --

start_munged() {
    pid_of "$MUNGE_PID" munged && return 0
    rm -f "$MUNGE_PID"
    if munge_works; then
        log "munged is already running (not started by this script, so 'stop' leaves it alone)"
        return 0
    fi
    install -d -o munge -g munge -m 0755 /run/munge "$MUNGE_PID_DIR"
    install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
    # munged refuses a log file it does not own; this file also receives its
    # start-up errors from the redirection below, so create it as munge first.
    touch /var/log/munge/munged.log
    chown munge:munge /var/log/munge/munged.log
    chmod 0640 /var/log/munge/munged.log
    if [[ ! -s /etc/munge/munge.key ]]; then
        log "creating /etc/munge/munge.key"
        mungekey --create --keyfile=/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 0600 /etc/munge/munge.key
    log "starting munged"
    env -i PATH="$DAEMON_PATH" runuser -u munge -- munged --pid-file="$MUNGE_PID" \
        </dev/null >>/var/log/munge/munged.log 2>&1 9>&- || {
        show_logs /var/log/munge/munged.log
        die "munged failed to start"
    }
    wait_until "munge to answer" "$TIMEOUT" "$MUNGE_PID" munged /var/log/munge/munged.log -- munge_works
}

start_mariadb() {
    pid_of "$MARIADB_PID" mariadbd && return 0
    rm -f "$MARIADB_PID"
    if mariadb_answers; then
        log "MariaDB is already running (not started by this script, so 'stop' leaves it alone)"
        return 0
    fi
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    if [[ ! -d /var/lib/mysql/mysql ]]; then
        log "initialising the MariaDB data directory"
        mariadb-install-db --user=mysql --datadir=/var/lib/mysql \
            </dev/null >>"$LOG_DIR/mariadb.log" 2>&1 9>&- || {
            show_logs "$LOG_DIR/mariadb.log"
            die "mariadb-install-db failed"
        }
    fi
    log "starting mariadbd"
    # mariadbd does not daemonize: run it in its own session, detached from
    # this shell, and record its PID ourselves (setsid execs in place here
    # because a background job of a non-interactive shell is no group leader).
    (cd / && exec env -i PATH="$DAEMON_PATH" setsid mariadbd --user=mysql \
        --innodb-lock-wait-timeout=900 \
        </dev/null >>"$LOG_DIR/mariadb.log" 2>&1 9>&-) &
    printf '%s\n' "$!" >"$MARIADB_PID"
    wait_until "MariaDB to answer" "$TIMEOUT" "$MARIADB_PID" mariadbd "$LOG_DIR/mariadb.log" -- mariadb_answers
}

setup_database() {
    # CREATE USER IF NOT EXISTS keeps an old password, so ALTER USER as well.
    mariadb --batch <<EOF || die "could not create the Slurm database/user in MariaDB"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF
}

# start_slurm_daemon NAME PIDFILE: the Slurm daemons fork into the background
# and write their PID files themselves.
start_slurm_daemon() {
    local name=$1 pidfile=$2
    pid_of "$pidfile" "$name" && return 0
    rm -f "$pidfile"
    log "starting $name"
    (cd / && exec env -i PATH="$DAEMON_PATH" SLURM_CONF="$SLURM_CONF_FILE" "$name" \
        </dev/null >>"$LOG_DIR/$name.log" 2>&1 9>&-) || {
        show_logs "$LOG_DIR/$name.log"
        die "$name failed to start"
    }
}

# Usable node?  A node left drained by an earlier run (e.g. "Kill task
# failed") is resumed once; a DOWN node comes back by itself on registration
# (ReturnToService=2).
RESUMED=0
node_ready() {
    local state
    state=$(node_state) || return 1
    case $state in
    idle | mixed | allocated | completing | planned) return 0 ;;
    drain*)
        if ((!RESUMED)); then
            RESUMED=1
            log "node $NODE is '$state'; resuming it"
            scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
        fi
        return 1
        ;;
    *) return 1 ;;
    esac
}

# -------------------------------------------------------------- subcommands --

cmd_start() {
    validate_settings
    take_lock start
    detect_host
    local slurm_conf dbd_conf="" cgroup_conf=""
    slurm_conf=$(render_slurm_conf)
    if [[ $ACCOUNTING == dbd ]]; then
        load_db_password
        dbd_conf=$(render_dbd_conf)
    fi
    if ((CGROUP)); then
        cgroup_conf=$(render_cgroup_conf)
    fi

    local conf_same=1
    same_content "$SLURM_CONF_FILE" "$slurm_conf" || conf_same=0
    if ((CGROUP)); then
        same_content "$CGROUP_CONF_FILE" "$cgroup_conf" || conf_same=0
    elif [[ -e $CGROUP_CONF_FILE ]] && grep -qxF "$MARKER" "$CGROUP_CONF_FILE"; then
        conf_same=0
    fi
    local dbd_same=1
    # (slurmdbd.conf is mode 600: a non-root caller cannot compare it.)
    if [[ $ACCOUNTING == dbd ]] && { ((EUID == 0)) || [[ ! -e $DBD_CONF_FILE ]]; }; then
        same_content "$DBD_CONF_FILE" "$dbd_conf" || dbd_same=0
    fi

    # Fast path: everything of ours is up, nothing to change, and it answers.
    if ((conf_same && dbd_same)) &&
        pid_of "$CTLD_PID" slurmctld && pid_of "$SLURMD_PID" slurmd &&
        { [[ $ACCOUNTING != dbd ]] || pid_of "$DBD_PID" slurmdbd; } &&
        node_usable &&
        { [[ $ACCOUNTING != dbd ]] || sacct_answers; }; then
        summary "already running, checked"
        return 0
    fi

    ((EUID == 0)) || die "start must run as root"
    ensure_packages
    command -v slurmctld >/dev/null || die "slurmctld not found after installing packages"

    mkdir -p "$RUN_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd "$CONF_DIR"
    chmod 0755 "$RUN_DIR" /var/spool/slurmctld /var/spool/slurmd

    write_file "$SLURM_CONF_FILE" 0644 "$slurm_conf"
    if ((CGROUP)); then
        write_file "$CGROUP_CONF_FILE" 0644 "$cgroup_conf"
    elif [[ -e $CGROUP_CONF_FILE ]] && grep -qxF "$MARKER" "$CGROUP_CONF_FILE"; then
        rm -f "$CGROUP_CONF_FILE"
    fi

    start_munged

    if [[ $ACCOUNTING == dbd ]]; then
        if ((!dbd_same)); then
            write_file "$DBD_CONF_FILE" 0600 "$dbd_conf"
            chown root:root "$DBD_CONF_FILE"
            stop_daemon slurmdbd "$DBD_PID" slurmdbd 30 "$LOG_DIR/slurmdbd.log" || true
        fi
        start_mariadb
        if ! pid_of "$DBD_PID" slurmdbd; then
            setup_database
            start_slurm_daemon slurmdbd "$DBD_PID"
        fi
        wait_until "slurmdbd to answer" "$TIMEOUT" "$DBD_PID" slurmdbd \
            "$LOG_DIR/slurmdbd.log $LOG_DIR/mariadb.log" -- \
            timeout 15 sacctmgr -n list cluster
    fi

    if ((!conf_same)) && { pid_of "$CTLD_PID" slurmctld || pid_of "$SLURMD_PID" slurmd; }; then
        log "configuration changed: restarting slurmctld and slurmd (a changed CPU count makes Slurm requeue running jobs)"
        stop_daemon slurmd "$SLURMD_PID" slurmd 30 "$LOG_DIR/slurmd.log" || true
        stop_daemon slurmctld "$CTLD_PID" slurmctld 60 "$LOG_DIR/slurmctld.log" || true
    fi

    start_slurm_daemon slurmctld "$CTLD_PID"
    wait_until "slurmctld to answer" "$TIMEOUT" "$CTLD_PID" slurmctld "$LOG_DIR/slurmctld.log" -- \
        timeout 15 scontrol ping
    start_slurm_daemon slurmd "$SLURMD_PID"
    wait_until "node $NODE to become idle" "$TIMEOUT" "$SLURMD_PID" slurmd \
        "$LOG_DIR/slurmd.log $LOG_DIR/slurmctld.log" -- node_ready

    if [[ $ACCOUNTING == dbd ]]; then
        wait_until "slurmctld to register cluster $CLUSTER_NAME in slurmdbd" "$TIMEOUT" "$DBD_PID" slurmdbd \
            "$LOG_DIR/slurmdbd.log $LOG_DIR/slurmctld.log" -- cluster_registered
        wait_until "sacct to answer" "$TIMEOUT" "$DBD_PID" slurmdbd \
            "$LOG_DIR/slurmdbd.log $LOG_DIR/slurmctld.log" -- sacct_answers
    fi
    summary "ready"
}

configured_partition() {
    sed -n 's/^PartitionName=\([^ ]*\).*/\1/p' "$SLURM_CONF_FILE" 2>/dev/null | head -n 1
}

cmd_stop() {
    take_lock stop
    ((EUID == 0)) || die "stop must run as root"
    local rc=0 part deadline
    if pid_of "$CTLD_PID" slurmctld; then
        part=$(configured_partition)
        part=${part:-$PARTITION}
        if ! timeout 30 scancel --partition="$part" 2>/dev/null; then
            log "WARNING: scancel --partition=$part failed"
        fi
        if pid_of "$SLURMD_PID" slurmd; then
            deadline=$((SECONDS + 120))
            while [[ -n $(timeout 15 squeue -h -p "$part" -o %i 2>/dev/null || echo unknown) ]]; do
                if ((SECONDS >= deadline)); then
                    timeout 15 squeue -p "$part" >&2 || true
                    show_logs "$LOG_DIR/slurmd.log" "$LOG_DIR/slurmctld.log"
                    log "ERROR: the queue did not empty within 120 s after scancel; stopping anyway"
                    rc=1
                    break
                fi
                sleep 0.2
            done
        fi
    fi
    stop_daemon slurmd "$SLURMD_PID" slurmd 30 "$LOG_DIR/slurmd.log" || rc=1
    stop_daemon slurmctld "$CTLD_PID" slurmctld 60 "$LOG_DIR/slurmctld.log" || rc=1
    stop_daemon slurmdbd "$DBD_PID" slurmdbd 30 "$LOG_DIR/slurmdbd.log" || rc=1
    stop_daemon mariadbd "$MARIADB_PID" mariadbd 90 "$LOG_DIR/mariadb.log" || rc=1
    stop_daemon munged "$MUNGE_PID" munged 30 /var/log/munge/munged.log || rc=1
    if ((rc)); then
        die "stop finished with errors (see above)"
    fi
    log "stopped in $(elapsed)s"
}

cmd_status() {
    if [[ ! -r $SLURM_CONF_FILE ]]; then
        echo "slurm-cluster: not set up ($SLURM_CONF_FILE missing)"
        return 1
    fi
    detect_host
    # Check the PID file first: a Slurm client facing a dead controller
    # retries for about 10 s before it gives up.
    if ! pid_of "$CTLD_PID" slurmctld; then
        echo "slurm-cluster: not running (no live slurmctld recorded in $CTLD_PID)"
        return 1
    fi
    local state
    state=$(node_state) || state=""
    case $state in
    idle | mixed | allocated | completing | planned) ;;
    "")
        echo "slurm-cluster: the controller does not answer (or node $NODE is unknown)"
        return 1
        ;;
    *)
        echo "slurm-cluster: node $NODE is '$state'"
        return 1
        ;;
    esac
    local acct=none
    if grep -qx 'AccountingStorageType=accounting_storage/slurmdbd' "$SLURM_CONF_FILE"; then
        acct=dbd
        if ! sacct_answers; then
            echo "slurm-cluster: node $NODE is $state but sacct does not answer"
            return 1
        fi
    fi
    echo "slurm-cluster: running: node $NODE $state, accounting $acct, Slurm $(slurm_version)"
}

main() {
    local cmd=${1:-start}
    case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    help | -h | --help) usage ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
}

main "$@"
