"""Errors that reach the user as one line: the CLI prints the message, never a traceback."""

__all__ = ["TrainingDiverged", "UserError"]


class UserError(ValueError):
    """Bad input: one line naming the problem and the fix (the CLI exits with status 2)."""


class TrainingDiverged(Exception):
    """The training loss became non-finite. The CLI exits with status 3."""
