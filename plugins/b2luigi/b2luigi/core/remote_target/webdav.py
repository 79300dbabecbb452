"""b2luigi.core.remote_target.webdav: WebDAV outputs, from b2core-webdav (pip install b2core-webdav)."""

from b2core_webdav import WebDAVSystem, WebDAVTarget

__all__ = ["WebDAVSystem", "WebDAVTarget"]
