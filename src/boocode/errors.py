"""Errors boocode reports to its users.

Every error a user can cause (bad input, unreachable server, refused path) is a `BoocodeError`: the CLI
prints its message as one line and exits non-zero, without a traceback.
"""

from __future__ import annotations


class BoocodeError(Exception):
    """An error with a message fit to show to a user as it is."""


class InputError(BoocodeError):
    """Something the user gave (a file, an argument, a schema) is invalid; nothing was run."""


class ConfigError(InputError):
    """The configuration (environment, config file or command line) is invalid."""


class StoreError(BoocodeError):
    """The database cannot be opened or migrated."""


class ProviderError(BoocodeError):
    """A provider request failed.

    `retryable` says whether the same request may succeed if sent again (429, 5xx, time-outs, connection
    errors, streams cut short); `status` is the HTTP status when there was one; `retry_after` the seconds
    the server asked to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class UnsupportedInputError(ProviderError):
    """The provider or model cannot take this input (for example images)."""


class ModelFileError(BoocodeError):
    """A local model file is missing, incomplete or fails its checksum."""


class ToolError(BoocodeError):
    """A tool refused or failed; the message goes back to the model, the agent carries on."""


class SchemaError(InputError):
    """A JSON schema given for structured output is invalid or contradicts itself."""
