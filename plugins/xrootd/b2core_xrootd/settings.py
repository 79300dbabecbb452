"""The typed settings of the XRootD protocol, so wrong types fail early and the docs list them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class XRootDSettings(BaseSettings):
    """Settings read by XRootDSystem; each may also come from a B2CORE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    xrootd_timeout: int = Field(
        60, ge=1, description="Seconds one XRootD request may take before it counts as a transient error."
    )
    xrootd_connection_window: int = Field(
        10,
        ge=1,
        description=(
            "Seconds the XRootD client tries to reach a server before the attempt counts as a transient "
            "error (the client's own default is 120 s; b2core's remote_retries then try the next door)."
        ),
    )
