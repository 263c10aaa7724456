"""Run a command on the controller; a failure becomes a LabError naming the command."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence

from souverain.errors import LabError


def run(
    argv: Sequence[str],
    *,
    check: bool = True,
    timeout: float | None = 120,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and capture its output; raise LabError when it fails and ``check`` is set."""
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as error:
        raise LabError(f"{argv[0]}: command not found") from error
    except subprocess.TimeoutExpired as error:
        raise LabError(f"`{shlex.join(argv)}` did not finish within {timeout:g} s") from error
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        tail = detail[-1] if detail else f"exit status {result.returncode}"
        raise LabError(f"`{shlex.join(argv)}` failed: {tail}")
    return result
