# Sourced by the scripts here: ensure_venv MODULE PIP-ARGS... makes .venv (installing python3-venv
# first when running as root on a machine without it) and pip-installs PIP-ARGS unless MODULE imports.
ensure_venv() {
    local module=$1
    shift
    if [[ -x .venv/bin/python ]] && .venv/bin/python -c "import $module" 2>/dev/null; then
        return
    fi
    if ! python3 -c "import ensurepip, venv" 2>/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv
    fi
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet "$@"
}
