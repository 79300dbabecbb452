"""Exceptions users see; each names the setting, task or file at fault."""


class B2CoreError(Exception):
    """Base of every error b2core raises on purpose."""


class SettingsError(B2CoreError, ValueError):
    """A setting is missing, has the wrong type, or an unknown value."""


class OutputPathError(B2CoreError, ValueError):
    """A parameter value would put an output outside result_dir."""


class OutputWriteError(B2CoreError, OSError):
    """A task's outputs could not be written (a full disk, a quota); names the folder, keeps nothing partial."""


class BackendError(B2CoreError, RuntimeError):
    """A batch backend is unknown, not installed or not usable here."""


class BatchCommandError(B2CoreError, RuntimeError):
    """A batch system command failed; carries the command's own error text."""

    def __init__(self, argv: list[str], returncode: int, stdout: str = "", stderr: str = "") -> None:
        self.argv = [str(word) for word in argv]  # Path arguments must not hide the command's own message
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        text = (stderr or stdout).strip()
        super().__init__(f"`{' '.join(self.argv)}` failed with exit code {returncode}: {text}")


class PermanentBatchError(BatchCommandError):
    """A batch command failure that retrying cannot fix (bad option, unknown queue)."""


class TaskNotFoundError(B2CoreError, LookupError):
    """A batch job was asked to run a task id the workflow does not contain."""


class PartialSubmissionError(B2CoreError, RuntimeError):
    """A submit call got some jobs out before failing; names their ids so the engine keeps exactly those.

    ``submitted_ids`` belong to the leading specs of the call, in order; ``cause`` is the error that
    stopped the rest (a transient BatchCommandError is retried for the rest only).
    """

    def __init__(self, submitted_ids: list[str], cause: Exception) -> None:
        self.submitted_ids = list(submitted_ids)
        self.cause = cause
        super().__init__(f"{len(self.submitted_ids)} job(s) were submitted before the submission failed: {cause}")


class PluginError(B2CoreError, RuntimeError):
    """An installed plugin's hook module cannot be imported or breaks the hook contract."""


class WorkflowLockedError(B2CoreError, RuntimeError):
    """Another steering process runs the same workflow (same job store); names it."""


class WorkflowStateError(B2CoreError, RuntimeError):
    """A workflow's own files (job store, lock) are damaged, unreadable or not writable; names the file."""


class RemoteError(B2CoreError, OSError):
    """A remote storage operation failed; names the URL and carries the server's own words."""

    def __init__(self, url: str, action: str, server_message: str) -> None:
        self.url = url
        self.action = action
        self.server_message = server_message.strip()
        super().__init__(f"Could not {action} {url}: {self.server_message}")


class TransientRemoteError(RemoteError):
    """A remote failure that may pass (timeout, no connection, server busy): retried."""


class PermanentRemoteError(RemoteError):
    """A remote failure retrying cannot fix (permission denied, bad credentials): fails at once."""
