"""Hooks of the WebDAV plugin; imported at every run start, so it imports no HTTP client."""

from __future__ import annotations

from b2core.hookspecs import hookimpl
from pydantic import BaseModel


@hookimpl
def b2core_settings_models() -> list[type[BaseModel]]:
    """Register the WebDAV settings so their types are checked and documented."""
    from b2core_webdav.settings import WebDAVSettings

    return [WebDAVSettings]
