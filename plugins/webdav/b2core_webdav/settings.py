"""The typed settings of the WebDAV protocol, so wrong types fail early and the docs list them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebDAVSettings(BaseSettings):
    """Settings read by WebDAVSystem; each may also come from a B2CORE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    X509_USER_PROXY: str | None = Field(
        None,
        description=(
            "The X509 proxy (certificate, key and chain in one PEM file) sent as client certificate; "
            "default: the X509_USER_PROXY environment variable."
        ),
    )
    X509_CERT_DIR: str | None = Field(
        None,
        description=(
            "Folder of hashed CA certificates the server is checked against (as /etc/grid-security/"
            "certificates); default: the X509_CERT_DIR environment variable, else requests' CA bundle "
            "(REQUESTS_CA_BUNDLE or certifi)."
        ),
    )
    webdav_timeout: float = Field(
        60.0, gt=0, description="Seconds a WebDAV server may stay silent before the request counts as transient."
    )
