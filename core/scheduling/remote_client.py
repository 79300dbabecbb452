"""Client of a central scheduler that sends the worker's add_task calls in bulk over one kept-alive connection.

luigi's :class:`luigi.rpc.RemoteScheduler` makes one HTTP request per RPC call, each on a new
connection when ``requests`` is not installed, and a steering process calls ``add_task`` once per task
while it schedules, then ``get_work`` and ``add_task`` (DONE) once per task it runs. With 10^5 tasks the
server spends its time in HTTP handling, not in scheduling. luigi's worker ignores what ``add_task``
answers, so :class:`BatchingRemoteScheduler` queues those calls and sends them with the next other call
(``get_work``, ``ping``, ...) or every :data:`BATCH_CALLS` calls, in one ``multicall`` request of
``b2core scheduler``: the server sees exactly luigi's calls in luigi's order, only fewer requests.
A server without ``multicall`` (luigi's ``luigid``) answers 404 once and then gets every call on
its own, as from luigi's client.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import urllib.parse
from typing import Any

from luigi import rpc

#: the RPC method of `b2core scheduler` that answers several calls in order (b2core.scheduling.server)
MULTICALL = "multicall"
#: queued add_task calls sent at once when no other call comes first (a request of about 1 MB)
BATCH_CALLS = 2_000

# form encoding of the ASCII JSON luigi sends (json.dumps escapes the rest); urllib quotes byte by byte
# in Python, which costs more than the request itself for a task with many dependencies
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_FORM_ESCAPES = {code: f"%{code:02X}" for code in range(128) if chr(code) not in _UNRESERVED}


class MethodNotFound(http.client.HTTPException):
    """The server answered 404: it has no such RPC method."""


def _form(fields: dict[str, str]) -> str:
    """application/x-www-form-urlencoded body, as urllib.parse.urlencode writes it."""
    parts = []
    for name, value in fields.items():
        encoded = value.translate(_FORM_ESCAPES) if value.isascii() else urllib.parse.quote(value, safe="")
        parts.append(f"{urllib.parse.quote(name, safe='')}={encoded}")
    return "&".join(parts)


class KeepAliveFetcher:
    """luigi's fetcher interface over one HTTP/1.1 connection per thread and process, kept open between calls."""

    raises = (OSError, http.client.HTTPException)

    def __init__(self) -> None:
        """Connections are made on first use, in the thread (and forked process) that uses them."""
        self._local = threading.local()

    def fetch(self, full_url: str, body: dict[str, str], timeout: float) -> str:
        """POST the form body; a kept-alive connection the server has closed meanwhile is opened again once."""
        url = urllib.parse.urlsplit(full_url)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if url.username:
            credentials = f"{urllib.parse.unquote(url.username)}:{urllib.parse.unquote(url.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        payload = _form(body).encode()
        path = url.path + (f"?{url.query}" if url.query else "")
        while True:
            connection, reused = self._connection(url, timeout)
            try:
                connection.request("POST", path, payload, headers)
                reply = connection.getresponse()
                text = reply.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._local.connection = None
                connection.close()
                if reused:
                    continue
                raise
            except BaseException:
                self._local.connection = None
                connection.close()
                raise
            if reply.status == 404:
                raise MethodNotFound(f"{full_url}: 404 Not Found")
            if reply.status != 200:
                raise http.client.HTTPException(f"{full_url}: HTTP {reply.status} {reply.reason}")
            return text.decode("utf-8")

    def _connection(self, url: urllib.parse.SplitResult, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's open connection (and whether it served a request before), or a new one."""
        local = self._local
        if getattr(local, "connection", None) is not None and local.pid == os.getpid():
            return local.connection, True
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        local.connection = kind(url.hostname or "localhost", url.port, timeout=timeout)
        local.pid = os.getpid()
        return local.connection, False

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()


class BatchingRemoteScheduler(rpc.RemoteScheduler):
    """luigi's RemoteScheduler whose add_task calls travel together with the next other call."""

    def __init__(self, url: str = "http://localhost:8082/", connect_timeout: float | None = None) -> None:
        """Like luigi's; queuing needs the keep-alive fetcher (http/https), other URLs behave exactly as in luigi."""
        super().__init__(url, connect_timeout)
        self._batching = urllib.parse.urlsplit(self._url).scheme in ("http", "https")
        if self._batching:
            self._fetcher = KeepAliveFetcher()
        self._owner = os.getpid()  # forked task processes report on their own, nothing is queued there
        self._lock = threading.Lock()  # the keep-alive thread pings (and so sends the queue) too
        self._queued: list[tuple[str, dict[str, Any]]] = []
        self._multicall: bool | None = None  # does the server have it? known after the first try

    def _request(self, url: str, data: dict[str, Any], attempts: int = 3, allow_null: bool = True) -> Any:
        """Queue add_task; any other call first sends the queue, in one request with itself when possible."""
        if not self._batching or self._multicall is False or os.getpid() != self._owner:
            return super()._request(url, data, attempts, allow_null)
        method = url.rsplit("/", 1)[-1]
        with self._lock:
            if method == "add_task":
                self._queued.append((method, data))
                if len(self._queued) >= BATCH_CALLS:
                    self._send_queued()
                return None
            if not self._queued:
                return super()._request(url, data, attempts, allow_null)
            self._queued.append((method, data))
            answer = self._send_queued()
        if answer is None and not allow_null:  # e.g. get_work: luigi asks again
            return super()._request(url, data, attempts, allow_null)
        return answer

    def _send_queued(self) -> Any:
        """Send the queued calls in order (as one multicall when the server has it); the last call's answer."""
        calls, self._queued = self._queued, []
        if self._multicall is None:
            try:
                url = f"{self._url}/api/{MULTICALL}"
                page = self._fetcher.fetch(url, _body(calls), self._connect_timeout)
            except MethodNotFound:
                self._multicall = False
            except self._fetcher.raises:
                pass  # not known yet: the retried request below says
            else:
                self._multicall = True
                return json.loads(page)["response"][-1]
        if self._multicall is not False:
            answers = json.loads(self._fetch(f"/api/{MULTICALL}", _body(calls)))["response"]
            self._multicall = True
            return answers[-1]
        answer = None
        for method, data in calls:
            answer = super()._request(f"/api/{method}", data)
        return answer


def _body(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    """The form body of one multicall request, encoded as luigi's client encodes every call."""
    return {"data": json.dumps({"calls": calls})}
