#!/usr/bin/env bash
# webdav-server.sh - a real HTTPS WebDAV server on localhost:8443 with X509 client-certificate
# authentication, as on grid storage, for b2core's remote-target tests.
#
# Usage: scripts/webdav-server.sh [start|stop|status]
#   start   (default, as root) install wsgidav + cheroot from PyPI into their own venv if missing,
#           make a test CA, a host certificate, a user certificate and an RFC 3820 user proxy (and a
#           user from another CA, for wrong-credential tests) once, then start the server as user
#           nobody unless it answers already. Idempotent. Prints where the credentials are.
#   stop    stop the server this script started (by its pid file; nothing is killed by name).
#   status  exit 0 if the server answers a PROPFIND made with the test proxy.
# Everything lives under /var/lib/b2core-webdav: venv/, data/ (served as /), pki/ with
#   pki/certificates/   X509_CERT_DIR (the test CA, hashed)     pki/x509up   X509_USER_PROXY
#   pki/wrong-x509up    a proxy of a user of an unknown CA      server.log, server.pid
set -euo pipefail
readonly PORT=8443
readonly BASE=/var/lib/b2core-webdav
readonly PKI=$BASE/pki
readonly PID_FILE=$BASE/server.pid

source "$(dirname "$0")/server.sh"

answers() {
    [[ -f $PKI/x509up ]] && curl -sf --max-time 10 -X PROPFIND -H "Depth: 0" --cert "$PKI/x509up" \
        --capath "$PKI/certificates" "https://localhost:$PORT/" -o /dev/null
}

make_user() {  # make_user NAME CA-PREFIX: a user certificate signed by the CA and a proxy of it
    local name=$1 ca=$2 subject="/O=b2core/OU=test/CN=$1"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -set_serial "$RANDOM" -days 3650 \
        -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n') \
        -out "$PKI/$name.pem" 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name-proxy.key" -subj "$subject/CN=$RANDOM" \
        -out "$PKI/$name-proxy.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/$name-proxy.csr" -CA "$PKI/$name.pem" -CAkey "$PKI/$name.key" \
        -set_serial "$RANDOM" -days 3650 -out "$PKI/$name-proxy.pem" -extfile <(printf '%s\n' \
        'basicConstraints=CA:FALSE' 'keyUsage=critical,digitalSignature,keyEncipherment' \
        'proxyCertInfo=critical,language:id-ppl-inheritAll') 2>/dev/null
}

make_pki() {
    [[ -f $PKI/x509up && -f $PKI/wrong-x509up ]] && return
    rm -rf "$PKI" && mkdir -p "$PKI/certificates"
    for ca in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout "$PKI/$ca.key" -out "$PKI/$ca.pem" \
            -subj "/O=b2core/CN=b2core test $ca" 2>/dev/null
    done
    cp "$PKI/ca.pem" "$PKI/certificates/$(openssl x509 -hash -noout -in "$PKI/ca.pem").0"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/host.key" -subj "/O=b2core/CN=localhost" \
        -out "$PKI/host.csr" 2>/dev/null
    openssl x509 -req -in "$PKI/host.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -set_serial 1 -days 3650 \
        -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n') \
        -out "$PKI/host.pem" 2>/dev/null
    make_user user "$PKI/ca"
    make_user stranger "$PKI/other-ca"
    cat "$PKI/user-proxy.pem" "$PKI/user-proxy.key" "$PKI/user.pem" >"$PKI/x509up"
    cat "$PKI/stranger-proxy.pem" "$PKI/stranger-proxy.key" "$PKI/stranger.pem" >"$PKI/wrong-x509up"
    chmod 644 "$PKI"/*.key  # test credentials only: the server runs as nobody
}

write_server() {
    cat >"$BASE/server.py" <<'EOF'
"""wsgidav on cheroot over HTTPS; TLS requires a client certificate (proxies allowed) of the test CA.

Usage: server.py BASE PORT [--digests | --wrong-digests] [--redirect-to URL]
  --digests        answer RFC 3230 Want-Digest: adler32 on HEAD and GET as dCache does (wsgidav offers none)
  --wrong-digests  the same, but a wrong adler32: a file that changed on its way, for the clients' error
  --redirect-to    answer GET and PUT with 307 to the same path on URL, as a dCache door sends the data to
                   a pool (run a second server on the same BASE as the pool), before any "100 Continue";
                   other requests served here
"""
import os
import ssl
import sys
import zlib

from cheroot import server as http_server, wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from wsgidav.wsgidav_app import WsgiDAVApp


def with_digests(app, root, wrong):
    """Add 'Digest: adler32=...' of the file on disk (or a wrong one) to HEAD and GET answers that asked for it."""
    def answer(environ, start_response):
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
        local = os.path.normpath(os.path.join(root, path.lstrip("/")))
        wanted = "adler32" in environ.get("HTTP_WANT_DIGEST", "").lower()
        if not wanted or environ["REQUEST_METHOD"] not in ("HEAD", "GET") or not local.startswith(root + "/"):
            return app(environ, start_response)
        if not os.path.isfile(local):
            return app(environ, start_response)
        value = 1
        with open(local, "rb") as stream:
            while chunk := stream.read(1 << 20):
                value = zlib.adler32(chunk, value)

        value = value ^ 1 if wrong else value

        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("Digest", f"adler32={value:08x}")], exc_info)

        return app(environ, start)

    return answer


class DecidingFirst(http_server.HeaderReader):
    """Hide Expect from cheroot, which answers "100 Continue" at once: a dCache door decides first."""

    def _allow_header(self, key_name):
        return key_name.strip().lower() != b"expect"


def redirecting(app, pool):
    """Send GET and PUT to the pool with 307 (before reading a body), serve everything else."""
    def answer(environ, start_response):
        if environ["REQUEST_METHOD"] not in ("GET", "PUT"):
            return app(environ, start_response)
        environ["wsgi.input"].remaining = 0  # answer now, unread body and all, and close, as dCache's door
        headers = [("Location", pool + environ["REQUEST_URI"]), ("Content-Length", "0"), ("Connection", "close")]
        start_response("307 Temporary Redirect", headers)
        return [b""]

    return answer


base, port = sys.argv[1], int(sys.argv[2])
app = WsgiDAVApp({
    "provider_mapping": {"/": f"{base}/data"},
    "simple_dc": {"user_mapping": {"*": True}},  # who may connect is decided by the TLS client check
    "http_authenticator": {"domain_controller": None},
    "dir_browser": {"enable": False},
    "verbose": 1,
})
adapter = BuiltinSSLAdapter(f"{base}/pki/host.pem", f"{base}/pki/host.key")
adapter.context.verify_mode = ssl.CERT_REQUIRED
adapter.context.verify_flags |= ssl.VERIFY_ALLOW_PROXY_CERTS
adapter.context.load_verify_locations(capath=f"{base}/pki/certificates")
options = sys.argv[3:]
if "--digests" in options or "--wrong-digests" in options:
    app = with_digests(app, os.path.realpath(f"{base}/data"), wrong="--wrong-digests" in options)
if "--redirect-to" in options:
    app = redirecting(app, options[options.index("--redirect-to") + 1])
    http_server.HTTPRequest.header_reader = DecidingFirst()
server = wsgi.Server(("127.0.0.1", port), app, numthreads=8)
server.ssl_adapter = adapter
server.safe_start()
EOF
}

start() {
    # Debian's python3 (not one under /root), so that user nobody can run the server
    if ! command -v curl >/dev/null || ! command -v openssl >/dev/null || ! /usr/bin/python3 -c "import ensurepip"; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl openssl python3-venv >/dev/null
    fi
    if ! "$BASE/venv/bin/python" -c "import wsgidav, cheroot" 2>/dev/null; then
        /usr/bin/python3 -m venv "$BASE/venv"
        "$BASE/venv/bin/pip" install --quiet wsgidav cheroot
    fi
    make_pki
    write_server  # also when the server runs already: private test servers start this program
    if answers; then
        echo "WebDAV server already answers on https://localhost:$PORT (X509_USER_PROXY=$PKI/x509up X509_CERT_DIR=$PKI/certificates)"
        return
    fi
    mkdir -p "$BASE/data" && chown nobody "$BASE/data"
    runuser -u nobody -- "$BASE/venv/bin/python" "$BASE/server.py" "$BASE" "$PORT" >"$BASE/server.log" 2>&1 &
    echo $! >"$PID_FILE"
    wait_until_answering "WebDAV server" "$BASE/server.log"
    echo "WebDAV server on https://localhost:$PORT (data in $BASE/data)"
    echo "  X509_USER_PROXY=$PKI/x509up X509_CERT_DIR=$PKI/certificates"
}

stop() {
    stop_by_pid_file "WebDAV server"
}

case ${1:-start} in
    start) start ;;
    stop) stop ;;
    status) answers ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
