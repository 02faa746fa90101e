"""Expected failures and the exit codes they map to.

Every failure a user can cause or fix (a bad spec, a wrong token, a server that
rejects a value) is a `ProvisionError`. The CLI prints its message and exits
with `exit_code`; anything else is a bug and is reported as one.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_DRIFT = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


class ProvisionError(Exception):
    """A failure the user can act on. `hint` says what to do next."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  {self.hint}"
        return self.message


class SpecError(ProvisionError):
    """One or more problems in a spec file, each with its location."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


class SpecProblem:
    """One problem in a spec: where it is, what is wrong, and the fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str = "",
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.hint = hint

    def location(self) -> str:
        parts = [self.file or "<spec>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        subject = f"{self.path}: " if self.path else ""
        text = f"{where}: {subject}{self.message}"
        if self.hint:
            text += f"\n  {self.hint}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class UsageError(ProvisionError):
    """A command-line option is missing or contradicts another."""


class ApplyRefused(ProvisionError):
    """The user did not confirm, or confirmation was impossible."""
