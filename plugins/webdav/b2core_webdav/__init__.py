"""WebDAV remote outputs for b2core: b2luigi's WebDAVSystem and WebDAVTarget."""

from b2core_webdav.system import WebDAVSystem, WebDAVTarget

__all__ = ["WebDAVSystem", "WebDAVTarget"]
