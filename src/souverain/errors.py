"""The exception family raised by library code; only the CLI turns them into exit statuses."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FINDINGS = 1  # verify or audit found a failure
EXIT_BAD_INPUT = 2  # bad input or usage
EXIT_DEPLOY_FAILED = 3  # a deployment (or the lab) failed


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input, located as precisely as possible."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    path: str | None = None  # dotted field path, e.g. tenants[0].domain
    hint: str | None = None

    def location(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class SouverainError(Exception):
    """Base of every error the CLI reports as a message rather than a traceback."""

    exit_code = EXIT_DEPLOY_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(SouverainError):
    """The user asked for something that cannot be done as asked."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(SouverainError):
    """suite.yml (or another input file) is invalid; carries every problem found."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: list[Problem], *, summary: str | None = None) -> None:
        self.problems = problems
        first = problems[0].message if problems else "invalid configuration"
        super().__init__(summary or first)


class RenderError(SouverainError):
    """A template failed to render; the previous build is left untouched."""

    exit_code = EXIT_BAD_INPUT


class ManifestError(SouverainError):
    """A role's component.yml is missing or invalid: the project tree is broken."""

    exit_code = EXIT_BAD_INPUT


class BuildReadError(SouverainError):
    """A file of the build directory is missing or unreadable: render (again) first.

    Each stage turns it into its own error class and hint; ``message`` names the file.
    """

    exit_code = EXIT_BAD_INPUT

    def __init__(self, what: str, path: object, reason: str) -> None:
        super().__init__(f"cannot read {what} {path}: {reason}", hint="Run `souverain render`.")
        self.path = path
        self.reason = reason


class SecretsError(SouverainError):
    """The secrets store cannot be read or written (missing or wrong vault password...)."""

    exit_code = EXIT_BAD_INPUT


class LabError(SouverainError):
    """The lab could not be brought up or down."""

    exit_code = EXIT_DEPLOY_FAILED


class LabRefused(LabError):
    """The lab cannot run on this machine as it is (not root, missing tools...)."""

    exit_code = EXIT_BAD_INPUT


class DeployError(SouverainError):
    """A deployment failed: a task failed or a host was unreachable."""

    exit_code = EXIT_DEPLOY_FAILED


class VerifyError(SouverainError):
    """Verification could not run (not: verification found failures)."""

    exit_code = EXIT_DEPLOY_FAILED
