"""Typed gbasf2 settings, registered with the core so wrong types fail at start naming the setting.

Every setting b2luigi documents for its gbasf2 wrapper, with the same names and defaults.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SETUP_PATH = "/cvmfs/belle.kek.jp/grid/gbasf2/pro/bashrc"


class Gbasf2Settings(BaseSettings):
    """Settings the gbasf2 backend reads; each may also come from a B2CORE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    # --- the project ---------------------------------------------------------------------------
    gbasf2_project_name_prefix: str | None = Field(
        None,
        description="Start of the project name; a hash of the task id is appended (total at most 32 characters).",
    )
    gbasf2_project_name_hash_length: int = Field(
        10, ge=6, description="Characters of the task-id hash appended to the prefix (6 to 10)."
    )
    gbasf2_input_dataset: str | None = Field(
        None, description="Input dataset LPN(s) on the grid, several separated by commas without spaces (-i)."
    )
    gbasf2_input_dslist: str | None = Field(
        None, description="Alternative to gbasf2_input_dataset: a text file with one LPN per line (--input_dslist)."
    )
    gbasf2_custom_steering_file: str = Field(
        "", description="Submit this steering file instead of the pickled create_path() path."
    )
    gbasf2_jinja_template_path: str | None = Field(
        None, description="Expert: your own template of the steering file that runs the pickled path."
    )
    gbasf2_release: str | None = Field(
        None, description="basf2 release the grid jobs use (-s); default: the release set up here."
    )
    max_event: int = Field(0, ge=0, description="Events each grid job processes (0: all), put into the steering file.")

    # --- environment and proxy -----------------------------------------------------------------
    gbasf2_setup_path: str = Field(DEFAULT_SETUP_PATH, description="Script sourced to set up the gbasf2 tools.")
    gbasf2_install_directory: str | None = Field(None, description="Deprecated and ignored; use gbasf2_setup_path.")
    gbasf2_proxy_lifetime: int = Field(24, ge=1, description="Hours a new proxy is valid (gb2_proxy_init -v H:00).")
    gbasf2_min_proxy_lifetime: int = Field(
        0, ge=0, description="Renew the proxy when fewer than this many hours are left."
    )
    gbasf2_proxy_group: str = Field("belle", description="gbasf2 group; other groups need gbasf2_project_lpn_path.")
    gbasf2_project_lpn_path: str | None = Field(
        None, description="LPN folder of the group's projects (--output_ds <path>/<project>); needed for non-belle."
    )

    # --- monitoring, retries and downloads --------------------------------------------------------
    gbasf2_print_status_updates: bool = Field(True, description="Print each project's job counts when they change.")
    gbasf2_max_retries: int = Field(
        0, ge=0, description="How often each grid job is rescheduled before the project counts as failed."
    )
    gbasf2_download_dataset: bool = Field(True, description="Download the output dataset when the project succeeds.")
    gbasf2_download_logs: bool = Field(True, description="Download the job logs when the project succeeds or fails.")
    gbasf2_additional_download_params: str = Field(
        "--new", description="Options given to gb2_ds_get (overriding drops the default --new)."
    )

    # --- pass-through options of the gbasf2 command ------------------------------------------------
    gbasf2_additional_params: str = Field("", description="Free options appended to the gbasf2 command.")
    gbasf2_noscout: bool = Field(False, description="--noscout: skip the scout jobs.")
    gbasf2_additional_files: list[str] = Field([], description="Extra input sandbox files (-f).")
    gbasf2_input_datafiles: list[str] = Field([], description="--input_datafiles: extra input LFNs for every job.")
    gbasf2_n_repition_job: int | None = Field(None, ge=1, description="--repetition N: jobs without input.")
    gbasf2_force_submission: bool = Field(True, description="--force: submit without asking for confirmation.")
    gbasf2_cputime: int | None = Field(None, ge=0, description="--cputime: expected CPU minutes per job.")
    gbasf2_evtpersec: int | float | None = Field(None, ge=0, description="--evtpersec: expected events per second.")
    gbasf2_priority: int | None = Field(None, ge=0, description="--priority 0..10 among your own jobs.")
    gbasf2_jobtype: str | None = Field(None, description="--jobtype, e.g. Skim.")
    gbasf2_basf2opt: str | None = Field(None, description="--basf2opt: options for basf2 in each job.")
    gbasf2_lfn_sandboxfiles: bool = Field(False, description="--lfn_sandboxfiles: sandbox files are LFNs.")
    gbasf2_input_grouping: Literal["site", "size"] | None = Field(
        None, description="--input_grouping site|size: how input files are grouped into jobs."
    )
