"""The typed settings of the Slurm backend, so wrong types fail early and the docs list them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OptionValue = bool | int | float | str


class SlurmSettings(BaseSettings):
    """Settings read by the Slurm backend; each may also come from a B2CORE_<NAME> variable (JSON)."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    slurm_settings: dict[str, OptionValue] = Field(
        {},
        description=(
            "sbatch long options without the leading '--', written as '#SBATCH --<key>=<value>' lines "
            "(e.g. {'export': 'NONE', 'mem': '100MB', 'time': '0:30:00', 'partition': 'debug'}). "
            "True writes a bare flag ('exclusive': True), False leaves the option out. A task's own "
            "slurm_settings attribute is merged over the global value. 'job-name' defaults to the "
            "job_name setting; 'array', 'output', 'error', 'parsable' and 'wrap' are managed by b2core."
        ),
    )
