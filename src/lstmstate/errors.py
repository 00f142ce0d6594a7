"""Errors that reach the user as one line: the CLI prints the message, never a traceback."""

__all__ = ["Interrupted", "TrainingDiverged", "UserError"]


class UserError(ValueError):
    """Bad input: one line naming the problem and the fix (the CLI exits with status 2)."""


class TrainingDiverged(Exception):
    """The training loss became non-finite. The CLI exits with status 3.

    ``last_good`` holds the model's ``state_dict`` after the last finite epoch
    (``None`` if the first epoch already diverged from the initial weights).
    """

    def __init__(self, message: str, last_good: dict | None = None) -> None:
        super().__init__(message)
        self.last_good = last_good


class Interrupted(Exception):
    """Stopped by the user (Ctrl-C); the message says how to resume. Exit status 130."""
