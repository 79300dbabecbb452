"""A lean HTTPS client for WebDAV: kept-alive TLS connections with the X509 proxy, redirects followed here.

The standard library's http.client costs about 0.25 ms of CPU per request, requests about 1 ms
(curl 0.3 ms): for 1,000 small files (two requests each) that was most of b2core's time. What
requests did on top is done here: the CA bundle, HTTPS proxies, redirects (a dCache door answers
307 to send the data to a pool), and `Expect: 100-continue` for large bodies, so a door can
redirect before the data travels (dCache redirects a PUT only when asked so).
"""

from __future__ import annotations

import http.client
import io
import os
import select
import ssl
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import BinaryIO
from urllib.parse import SplitResult, urljoin, urlsplit

REDIRECTS = {301, 302, 307, 308}  # followed with the same method and body (WebDAV doors use 307)
MAX_REDIRECTS = 10
BLOCK = 4 * 1024 * 1024  # pieces a file is sent and received in: fewer system calls than http.client's 8 kB
EXPECT_FROM = 1024 * 1024  # bodies from this size ask `Expect: 100-continue` first, as curl does
EXPECT_WAIT = 10.0  # seconds to wait for "100 Continue" before sending anyway (RFC 9110; a door may be slow)


@dataclass(frozen=True)
class Answer:
    """A server's final answer; body is empty when it went into a sink."""

    status: int
    reason: str
    headers: Message
    body: bytes
    url: str


class Client:
    """HTTPS requests of one process, with one kept-alive connection per server."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        self.context = context
        self.timeout = timeout
        self._connections: dict[tuple[str, int], http.client.HTTPSConnection] = {}
        self._buffer = memoryview(bytearray(BLOCK))  # every download of this client is read into it

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        upload: str | None = None,
        sink: BinaryIO | None = None,
    ) -> Answer:
        """Send a request (body bytes, or the local file `upload`); a 200 answer's body is written to sink."""
        for _ in range(MAX_REDIRECTS):
            answer = self._once(method, url, dict(headers or {}), body, upload, sink)
            location = answer.headers.get("Location")
            if answer.status not in REDIRECTS or not location:
                return answer
            url = urljoin(url, location)
        return answer  # still a redirect: the caller names it

    def _once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        upload: str | None,
        sink: BinaryIO | None,
    ) -> Answer:
        connection = self._connection(url)
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            if upload is not None and os.path.getsize(upload) >= EXPECT_FROM:
                return self._send_file(connection, method, target, headers, upload, url, sink)
            if upload is not None:
                with open(upload, "rb") as stream:
                    body = stream.read()  # bytes get a Content-Length; a file object would be sent chunked
            connection.request(method, target, body=body, headers=headers)
            return _read(connection, url, sink, self._buffer)
        except BaseException:
            connection.close()
            raise

    def _send_file(
        self,
        connection: http.client.HTTPSConnection,
        method: str,
        target: str,
        headers: dict[str, str],
        upload: str,
        url: str,
        sink: BinaryIO | None,
    ) -> Answer:
        """A large upload: headers with `Expect: 100-continue`, the file only once the server agrees."""
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(os.path.getsize(upload))}.items():
            connection.putheader(name, value)
        connection.putheader("Expect", "100-continue")
        connection.endheaders()
        early = _early_answer(connection, url)
        if early is not None:  # a redirect or a refusal before any data went: this connection is spent
            connection.close()
            return early
        with open(upload, "rb") as stream:
            connection.send(stream)  # in blocksize (BLOCK) pieces: one TLS write each
        return _read(connection, url, sink, self._buffer)

    def _connection(self, url: str) -> http.client.HTTPSConnection:
        """The kept-alive connection to the URL's server; a fresh one if the server closed it while idle."""
        parts = urlsplit(url)
        key = (parts.hostname or "", parts.port or 443)
        connection = self._connections.get(key)
        if connection is None:
            proxy = _proxy(parts.hostname or "")
            host, port = (proxy.hostname or "", proxy.port or 443) if proxy else key
            connection = http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self.context, blocksize=BLOCK
            )
            if proxy:
                connection.set_tunnel(*key)
            self._connections[key] = connection
        elif connection.sock is not None and select.select([connection.sock], [], [], 0)[0]:
            connection.close()  # readable while idle: the server hung up (keep-alive timeout); reconnects
        return connection

    def close(self) -> None:
        """Close every connection."""
        for connection in self._connections.values():
            connection.close()


def _proxy(host: str) -> SplitResult | None:
    """The HTTPS proxy of the environment (HTTPS_PROXY, NO_PROXY) for a server, as requests honoured it."""
    proxy = urllib.request.getproxies_environment().get("https")
    if not proxy or urllib.request.proxy_bypass_environment(host):
        return None
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


def _early_answer(connection: http.client.HTTPSConnection, url: str) -> Answer | None:
    """After headers that expect 100-continue: None to send the body, or the server's final answer."""
    sock = connection.sock
    if not (sock.pending() or select.select([sock], [], [], EXPECT_WAIT)[0]):
        return None  # the server says nothing (RFC 9110 allows it): send the body anyway
    raw = sock.makefile("rb", buffering=0)  # byte-exact: the final answer may follow "100 Continue" at once
    line = raw.readline()
    try:
        _version, status, reason = [*line.decode("latin-1").split(None, 2), ""][:3]
        code = int(status)
    except ValueError:
        raise http.client.BadStatusLine(repr(line)) from None
    if code == http.client.CONTINUE:
        while raw.readline() not in (b"\r\n", b"\n", b""):
            pass
        return None
    reader = io.BufferedReader(raw)  # the connection is closed after this answer: reading ahead is fine
    headers = http.client.parse_headers(reader)
    return Answer(code, reason.strip(), headers, reader.read(int(headers.get("Content-Length") or 0)), url)


class ShortBody(http.client.IncompleteRead):
    """The server hung up before the whole body arrived; says how much came, in words."""

    def __init__(self, received: int, expected: int) -> None:
        super().__init__(b"", expected - received)
        self.received = received

    def __repr__(self) -> str:
        return f"the connection closed after {self.received} of {self.received + self.expected} bytes of the body"


def _read(connection: http.client.HTTPSConnection, url: str, sink: BinaryIO | None, buffer: memoryview) -> Answer:
    """The whole answer; a 200's body goes into sink in buffer-sized pieces, exactly Content-Length bytes."""
    sock = connection.sock  # getresponse() drops it from an answer with `Connection: close`; the body stays readable
    response = connection.getresponse()
    if sink is None or response.status != 200:
        return Answer(response.status, response.reason, response.headers, response.read(), url)
    if response.length is None:  # chunked or until the server closes: http.client decodes it
        while count := response.readinto(buffer):
            sink.write(buffer[:count])
    else:
        _copy_body(response, sock, sink, buffer)
    return Answer(response.status, response.reason, response.headers, b"", url)


def _copy_body(response: http.client.HTTPResponse, sock: ssl.SSLSocket, sink: BinaryIO, buffer: memoryview) -> None:
    """Content-Length bytes from the TLS socket into buffer: http.client's reader costs Python calls per record."""
    # http.client's buffered reader goes through SocketIO.readinto per TLS record (8 to 16 kB); here one
    # recv_into per record lands in the buffer at its offset, one sink.write per filled buffer. What that
    # reader holds already comes first; all bytes are consumed and the response closed, so the kept-alive
    # connection is ready for the next request.
    expected = remaining = response.length or 0
    held = response.fp.read1(min(remaining, len(buffer)))  # bytes the reader took with the headers (if any)
    filled = len(held)
    buffer[:filled] = held
    remaining -= filled
    size = len(buffer)
    while remaining:
        count = sock.recv_into(buffer[filled:], min(size - filled, remaining))
        if not count:  # the server hung up (TLS EOF without close_notify reads as 0)
            raise ShortBody(expected - remaining, expected)
        filled += count
        remaining -= count
        if filled == size:
            sink.write(buffer)
            filled = 0
    if filled:
        sink.write(buffer[:filled])
    response.length = 0
    response.close()  # all of the body was read: http.client may send the next request
