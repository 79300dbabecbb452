# Sourced by xrootd-server.sh and webdav-server.sh, which define answers() and PID_FILE first:
# the start and stop waits they share.
wait_until_answering() {  # wait_until_answering NAME LOG: up to 10 s, else exit 1 naming the log
    for _ in $(seq 50); do
        answers && return
        sleep 0.2
    done
    echo "$1 did not start; see $2" >&2
    exit 1
}

stop_by_pid_file() {  # stop_by_pid_file NAME: stop the recorded process, wait until it no longer answers
    if [[ -f $PID_FILE ]] && kill "$(cat "$PID_FILE")" 2>/dev/null; then
        for _ in $(seq 50); do
            answers || break
            sleep 0.2
        done
    fi
    rm -f "$PID_FILE"
    echo "$1 stopped"
}
