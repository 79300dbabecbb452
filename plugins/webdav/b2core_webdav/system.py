"""WebDAVSystem: the primitives of b2core's RemoteFileSystem as WebDAV requests over HTTPS, with X509."""

from __future__ import annotations

import http.client
import os
import re
import ssl
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlsplit

import certifi
from b2core.errors import PermanentRemoteError, SettingsError, TransientRemoteError
from b2core.remote import RemoteFileSystem, RemoteStat, RemoteTarget
from b2core.settings import get_setting
from b2core.settings_models import register_settings_model

from b2core_webdav.client import REDIRECTS, Answer, Client
from b2core_webdav.settings import WebDAVSettings

# 5xx answers and a redirect chain that never ended are worth another attempt; other failures are final
TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504, 507} | REDIRECTS
DAV = "{DAV:}"
# TLS failures that mean a refused or untrusted certificate (final), not a broken connection (retried)
CREDENTIAL_PROBLEM = re.compile(r"CERTIFICATE|UNKNOWN_CA|HANDSHAKE_FAILURE|ACCESS_DENIED|KEY_VALUES_MISMATCH|PEM")
PROPFIND_BODY = (
    b'<?xml version="1.0"?><propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/></prop></propfind>'
)

register_settings_model(WebDAVSettings)  # its settings work even when the plugin hooks were not loaded


def credential(name: str) -> str | None:
    """An X509 location from the setting of that name, else from the environment variable."""
    return get_setting(name, default=os.environ.get(name)) or None


def digest_from_headers(headers: Mapping[str, str], algorithm: str) -> str | None:
    """The checksum a server sent in an RFC 3230 `Digest` header (e.g. 'adler32=03da0195'), if any."""
    for item in headers.get("Digest", "").split(","):
        name, _, value = item.strip().partition("=")
        if name.lower() == algorithm and value:
            return value.lower()
    return None


class WebDAVSystem(RemoteFileSystem):
    """A file system on WebDAV servers (https:// or davs:// doors) with X509 client certificates."""

    checksum_algorithm = "adler32"
    transfer_checks_size = True  # a PUT or GET with Content-Length fails if fewer bytes arrive
    checksums_expected = False  # many WebDAV servers send no Digest: no local adler32 before one answered

    def url(self, path: str, door: str | None = None) -> str:
        """https://host:port/path (davs:// spelled as https://, as servers expect)."""
        base = door or self.server_path
        if base.startswith("davs://"):
            base = "https://" + base[len("davs://") :]
        return f"{base}/{path.lstrip('/')}"

    def _client(self) -> Client:
        """This thread's client: connections are not thread-safe, and a forked worker must not share them."""
        local = self.__dict__.setdefault("_http", threading.local())
        if getattr(local, "pid", None) != os.getpid():
            proxy = credential("X509_USER_PROXY")
            if proxy is None:
                raise SettingsError(
                    "WebDAVSystem needs an X509 proxy: set the setting or environment variable X509_USER_PROXY "
                    "to the proxy file (e.g. /tmp/x509up_u$UID from voms-proxy-init)"
                )
            if not os.path.isfile(proxy):
                raise SettingsError(f"X509_USER_PROXY names {proxy}, which is not a file")
            cert_dir = credential("X509_CERT_DIR")
            if cert_dir is not None and not os.path.isdir(cert_dir):
                raise SettingsError(f"X509_CERT_DIR names {cert_dir}, which is not a folder")
            local.pid, local.client = os.getpid(), Client(tls_context(proxy, cert_dir), get_setting("webdav_timeout"))
        return local.client

    def __getstate__(self) -> dict[str, object]:
        """Pickled (into a batch job) without connections: the job opens its own."""
        return {name: value for name, value in self.__dict__.items() if name != "_http"}

    def _request(
        self, method: str, door: str, path: str, action: str, expect: tuple[int, ...], **kwargs: object
    ) -> Answer:
        """One request (redirects followed); network trouble and 5xx answers are transient, other failures permanent."""
        url = quote(self.url(path, door), safe=":/=@+,~")
        try:
            answer = self._client().request(method, url, **kwargs)
        except ssl.SSLError as error:
            # a refused client certificate shows as an alert, or (TLS 1.3) as the server hanging up
            checked = f"X509_USER_PROXY={credential('X509_USER_PROXY')}, X509_CERT_DIR={credential('X509_CERT_DIR')}"
            words = f"TLS failed: {_reason(error)} (check the credentials: {checked})"
            error_class = PermanentRemoteError if CREDENTIAL_PROBLEM.search(str(error)) else TransientRemoteError
            raise error_class(self.url(path, door), action, words) from None
        except (OSError, http.client.HTTPException) as error:
            raise TransientRemoteError(self.url(path, door), action, _reason(error)) from None
        if answer.status in expect:
            return answer
        status = f"{answer.status} {answer.reason}"
        words = f"HTTP {status}: {_text_of(answer).replace(status, '').strip() or '(no text)'}"
        if answer.url != url:
            words += f" (from {answer.url})"
        error_class = TransientRemoteError if answer.status in TRANSIENT_STATUS else PermanentRemoteError
        raise error_class(self.url(path, door), action, words)

    def _propfind(self, door: str, path: str, depth: str, action: str) -> ElementTree.Element | None:
        answer = self._request("PROPFIND", door, path, action, (207, 404), body=PROPFIND_BODY, headers={"Depth": depth})
        return None if answer.status == 404 else ElementTree.fromstring(answer.body)

    def _stat(self, door: str, path: str) -> RemoteStat | None:
        answer = self._propfind(door, path, "0", "check")
        if answer is None:
            return None
        entry = answer.find(f"{DAV}response")
        is_dir = entry is not None and entry.find(f".//{DAV}resourcetype/{DAV}collection") is not None
        length = entry.findtext(f".//{DAV}getcontentlength") if entry is not None else None
        return RemoteStat(size=int(length or 0), is_dir=is_dir)

    def _upload(self, door: str, local_path: str, path: str) -> None:
        answer = self._request("PUT", door, path, "upload to", (200, 201, 204, 409), upload=local_path)
        if answer.status == 409:  # the folder is missing: create it (as XRootD does), then again
            self._mkdir(door, os.path.dirname(path))
            self._request("PUT", door, path, "upload to", (200, 201, 204), upload=local_path)

    def _download(self, door: str, path: str, local_path: str) -> None:
        # the body as sent (identity: nothing to decode), copied in large pieces into the file
        with open(local_path, "wb") as stream:
            self._request("GET", door, path, "download", (200,), headers={"Accept-Encoding": "identity"}, sink=stream)

    def _rename(self, door: str, path: str, dest: str) -> None:
        headers = {"Destination": quote(self.url(dest, door), safe=":/=@+,~"), "Overwrite": "T"}
        self._request("MOVE", door, path, f"move (to {dest})", (201, 204), headers=headers)

    def _mkdir(self, door: str, path: str) -> None:
        path = path.rstrip("/")
        if not path:
            return
        answer = self._request("MKCOL", door, path + "/", "create the folder", (201, 405, 409))
        if answer.status == 409:  # a parent is missing: create it, then this one
            self._mkdir(door, os.path.dirname(path))
            self._request("MKCOL", door, path + "/", "create the folder", (201, 405))

    def _remove_file(self, door: str, path: str) -> None:
        self._request("DELETE", door, path, "remove", (200, 204, 404))

    def _remove_empty_dir(self, door: str, path: str) -> None:
        self._request("DELETE", door, path.rstrip("/") + "/", "remove the folder", (200, 204, 404))

    def _listdir(self, door: str, path: str) -> list[str]:
        answer = self._propfind(door, path.rstrip("/") + "/", "1", "list")
        if answer is None:
            raise PermanentRemoteError(self.url(path, door), "list", "no such folder")
        own = urlsplit(self.url(path, door)).path.rstrip("/")
        names = []
        for href in answer.iter(f"{DAV}href"):
            entry = unquote(urlsplit(href.text or "").path).rstrip("/")
            if entry != own:
                names.append(entry.rsplit("/", 1)[-1])
        return names

    def _checksum(self, door: str, path: str) -> str | None:
        answer = self._request("HEAD", door, path, "checksum", (200,), headers={"Want-Digest": "adler32"})
        return digest_from_headers(answer.headers, "adler32")


def tls_context(proxy: str, cert_dir: str | None) -> ssl.SSLContext:
    """The proxy as client certificate; trusted: the CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or certifi's,
    as requests chose it) and the grid CAs of X509_CERT_DIR, both at once."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
    context = ssl.create_default_context(**{"capath" if os.path.isdir(bundle) else "cafile": bundle})
    if cert_dir is not None:
        context.load_verify_locations(capath=cert_dir)
    context.load_cert_chain(proxy)
    return context


def _reason(error: Exception) -> str:
    """The innermost words of an error: OpenSSL's or the socket's."""
    text = str(error) or type(error).__name__
    found = re.search(r"\[(?:SSL: |Errno )[^\]]+\][^'\"()]*", text)
    return found.group(0).strip() if found else text


def _text_of(answer: Answer) -> str:
    """The server's own words: the body without markup, shortened."""
    text = re.sub(r"<[^>]+>", " ", answer.body.decode("utf-8", "replace"))
    return " ".join(text.split())[:300]


class WebDAVTarget(RemoteTarget):
    """An output on a WebDAV server: ``add_to_output("f.root", WebDAVTarget, file_system=fs)``."""
