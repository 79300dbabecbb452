#!/usr/bin/env bash
# xrootd-server.sh - a real XRootD storage server on localhost:1094 for b2core's remote-target tests.
#
# Usage: scripts/xrootd-server.sh [start|stop|status]
#   start   (default, as root) install xrootd-server/xrootd-client from Debian if missing, write the
#           configuration (adler32 checksums), start the daemon as user nobody unless it answers
#           already. Idempotent.
#   stop    stop the daemon this script started (by its pid file; nothing is killed by name).
#   status  exit 0 if the server answers `xrdfs localhost:1094 query config version`.
# Data in /var/lib/b2core-xrootd/data (served as /), configuration, pid and log in /run/b2core-xrootd.
set -euo pipefail
readonly PORT=1094
readonly DATA_DIR=/var/lib/b2core-xrootd/data
readonly RUN_DIR=/run/b2core-xrootd
readonly CONFIG=$RUN_DIR/xrootd.cfg
readonly PID_FILE=$RUN_DIR/xrootd.pid

source "$(dirname "$0")/server.sh"

answers() {
    command -v xrdfs >/dev/null && timeout 10 xrdfs "localhost:$PORT" query config version >/dev/null 2>&1
}

start() {
    if ! command -v xrootd >/dev/null || ! command -v xrdcp >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xrootd-server xrootd-client >/dev/null
    fi
    if answers; then
        echo "XRootD server already answers on root://localhost:$PORT (data in $DATA_DIR)"
        return
    fi
    mkdir -p "$DATA_DIR" "$RUN_DIR"
    chown nobody "$DATA_DIR" "$RUN_DIR"
    cat >"$CONFIG" <<EOF
all.export /
oss.localroot $DATA_DIR
xrd.port $PORT
all.adminpath $RUN_DIR
all.pidpath $RUN_DIR
xrootd.chksum adler32
EOF
    xrootd -c "$CONFIG" -l "$RUN_DIR/xrootd.log" -b -R nobody
    wait_until_answering "XRootD" "$RUN_DIR/xrootd.log"
    echo "XRootD server on root://localhost:$PORT (data in $DATA_DIR, log $RUN_DIR/xrootd.log)"
}

stop() {
    stop_by_pid_file "XRootD server"
}

case ${1:-start} in
    start) start ;;
    stop) stop ;;
    status) answers ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
