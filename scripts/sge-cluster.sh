#!/usr/bin/env bash
# sge-cluster.sh - install, start, stop and check a real one-host Son of Grid
# Engine cell on localhost, for b2core's SGE tests and CI.
#
# Why this exists: the b2core-sge backend is tested against genuine qsub,
# qstat, qacct and qdel answered by real daemons.  Test machines have no
# systemd, so this script installs Debian's gridengine-master, -exec and
# -client (8.1.9) and runs sge_qmaster and sge_execd directly, as root.
#
# Usage: scripts/sge-cluster.sh [start|stop|status|help]
#
#   start   (default) install missing packages, configure the cell, start
#           whatever is not running, wait until the queue takes jobs.
#           Idempotent: with everything running it only checks.
#   stop    delete every job, then stop execd and qmaster (found by PID file;
#           nothing is killed by process name).
#   status  exit 0 if qmaster and execd run and the queue takes jobs.
#
# The cell: SGE_ROOT=/var/lib/gridengine, cell "default", host "localhost"
# (host_aliases maps `hostname -s` to it), queue all.q with SGE_LOCAL_SLOTS
# slots (default 40: three test workers may each hold 12 mostly waiting jobs
# at once; with 16, two tests waited on each other until they timed out), min_uid/min_gid 0
# so root (CI, tests) may submit, login_shells none (job shells do not read
# the submitter's profile, which made each light job take seconds), a 1 s
# scheduling interval and a 1 s accounting flush so qstat and qacct follow
# jobs within seconds.
# PID files: /var/spool/gridengine/qmaster/qmaster.pid and
# /var/spool/gridengine/execd/localhost/execd.pid.

set -euo pipefail
umask 022
export LC_ALL=C

export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
readonly COMMON=$SGE_ROOT/$SGE_CELL/common
readonly QMASTER_PID=/var/spool/gridengine/qmaster/qmaster.pid
readonly EXECD_PID=/var/spool/gridengine/execd/localhost/execd.pid
readonly QMASTER_LOG=/var/spool/gridengine/qmaster/messages
readonly EXECD_LOG=/var/spool/gridengine/execd/localhost/messages
readonly POLICY_RC=/usr/sbin/policy-rc.d
readonly PACKAGES=(gridengine-master gridengine-exec gridengine-client)
readonly DAEMON_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SLOTS=${SGE_LOCAL_SLOTS:-40}
TIMEOUT=${SGE_LOCAL_TIMEOUT:-60}
CREATED_POLICY_RC=0
WORK=

log() { printf 'sge-cluster: %s\n' "$*" >&2; }

die() {
    log "ERROR: $*"
    local f
    for f in "$QMASTER_LOG" "$EXECD_LOG"; do
        [[ -s $f ]] && { printf -- '----- last 20 lines of %s -----\n' "$f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

cleanup() {
    ((CREATED_POLICY_RC)) && rm -f "$POLICY_RC"
    [[ -n $WORK ]] && rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

# pid_of PIDFILE COMM: succeed if the PID in PIDFILE is alive and really is COMM.
pid_of() {
    local pid
    [[ -r $1 ]] || return 1
    pid=$(tr -d '[:space:]' <"$1")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$2" ]]
}

# wait_until DESCRIPTION COMMAND...: poll COMMAND for TIMEOUT seconds, then fail loudly.
wait_until() {
    local desc=$1 deadline=$((SECONDS + TIMEOUT))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "timed out after $TIMEOUT s waiting for $desc"
        sleep 0.5
    done
}

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

install_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]} (apt-get)"
    local host
    host=$(hostname -s)
    debconf-set-selections <<EOF
gridengine-master shared/gridenginemaster string $host
gridengine-master shared/gridenginecell string $SGE_CELL
gridengine-master shared/gridengineconfig boolean true
gridengine-common shared/gridenginemaster string $host
gridengine-common shared/gridenginecell string $SGE_CELL
gridengine-common shared/gridengineconfig boolean true
EOF
    if [[ ! -e $POLICY_RC ]]; then # the maintainer scripts must not start daemons
        printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC" && chmod 755 "$POLICY_RC" && CREATED_POLICY_RC=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/sge-cluster-apt.log 2>&1 ||
        die "apt-get install ${missing[*]} failed (output: /tmp/sge-cluster-apt.log)"
    [[ -r $COMMON/bootstrap ]] || die "the packages did not create the cell ($COMMON/bootstrap is missing)"
}

start_daemon() { # start_daemon PIDFILE COMM BINARY
    pid_of "$1" "$2" && return 0
    log "starting $2"
    (cd / && env -i PATH="$DAEMON_PATH" SGE_ROOT="$SGE_ROOT" SGE_CELL="$SGE_CELL" "$3") || die "$2 did not start"
    wait_until "$2 to write $1" pid_of "$1" "$2"
}

# set_attribute NAME VALUE FILE: replace one "name value" line of a qconf listing.
set_attribute() { sed -i -e "s|^$1 .*|$1 $2|" "$3"; }

configure() {
    WORK=$(mktemp -d)
    qconf -se localhost >/dev/null 2>&1 || {
        printf 'hostname localhost\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\nreport_variables NONE\n' >"$WORK/exechost"
        qconf -Ae "$WORK/exechost" >/dev/null
    }
    qconf -ss 2>/dev/null | grep -qx localhost || qconf -as localhost >/dev/null
    qconf -sconf global >"$WORK/global"
    if ! grep -q '^min_uid  *0$' "$WORK/global" || ! grep -q '^login_shells  *none$' "$WORK/global"; then
        set_attribute min_uid 0 "$WORK/global"
        set_attribute min_gid 0 "$WORK/global"
        set_attribute login_shells none "$WORK/global"
        sed -i -e 's/flush_time=[0-9:]*/flush_time=00:00:01/' "$WORK/global"
        qconf -Mconf "$WORK/global" >/dev/null
    fi
    qconf -ssconf >"$WORK/sconf"
    if ! grep -q '^schedule_interval  *0:0:1$' "$WORK/sconf"; then
        set_attribute schedule_interval 0:0:1 "$WORK/sconf"
        set_attribute flush_submit_sec 1 "$WORK/sconf"
        set_attribute flush_finish_sec 1 "$WORK/sconf"
        qconf -Msconf "$WORK/sconf" >/dev/null
    fi
    if ! qconf -sq all.q >/dev/null 2>&1; then
        qconf -sq >"$WORK/all.q"
        set_attribute qname all.q "$WORK/all.q"
        set_attribute hostlist localhost "$WORK/all.q"
        set_attribute slots "$SLOTS" "$WORK/all.q"
        set_attribute pe_list NONE "$WORK/all.q"
        set_attribute load_thresholds NONE "$WORK/all.q"
        qconf -Aq "$WORK/all.q" >/dev/null
    elif [[ $(qconf -sq all.q | awk '$1 == "slots" {print $2}') != "$SLOTS" ]]; then
        qconf -rattr queue slots "$SLOTS" all.q >/dev/null
    fi
}

# The queue instance takes jobs: execd reports a load and no state (alarm, unknown, disabled, error) is set.
queue_ready() {
    qstat -f -q all.q 2>/dev/null | awk '$1 == "all.q@localhost" { found = 1; if ($4 != "-NA-" && NF == 5) ok = 1 } END { exit !(found && ok) }'
}

status() {
    pid_of "$QMASTER_PID" sge_qmaster || { log "sge_qmaster is not running"; return 1; }
    pid_of "$EXECD_PID" sge_execd || { log "sge_execd is not running"; return 1; }
    queue_ready || { log "queue all.q@localhost does not take jobs"; return 1; }
    log "running: qmaster and execd on localhost, queue all.q with $(qconf -sq all.q | awk '$1 == "slots" {print $2}') slots"
}

start() {
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    install_packages
    printf 'localhost %s\n' "$(hostname -s)" >"$COMMON/host_aliases"
    start_daemon "$QMASTER_PID" sge_qmaster /usr/sbin/sge_qmaster
    wait_until "qmaster to answer" qconf -sh
    configure
    start_daemon "$EXECD_PID" sge_execd /usr/sbin/sge_execd
    wait_until "queue all.q@localhost to take jobs" queue_ready
    status
}

stop_daemon() { # stop_daemon PIDFILE COMM
    local pid
    pid_of "$1" "$2" || return 0
    pid=$(tr -d '[:space:]' <"$1")
    kill "$pid"
    wait_until "$2 to stop" bash -c "! kill -0 $pid"
}

stop() {
    [[ $(id -u) -eq 0 ]] || die "must run as root"
    if pid_of "$QMASTER_PID" sge_qmaster; then
        qdel -f -u '*' >/dev/null 2>&1 || true
        wait_until "the queue to empty" bash -c '[[ -z $(qstat -u "*") ]]'
    fi
    stop_daemon "$EXECD_PID" sge_execd
    stop_daemon "$QMASTER_PID" sge_qmaster
    log "stopped"
}

case ${1:-start} in
start) start ;;
stop) stop ;;
status) status ;;
help | -h | --help) sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0" ;;
*) die "unknown command ${1} (start|stop|status|help)" ;;
esac
