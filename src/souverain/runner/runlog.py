"""The log of one run: JSON lines in ``<deployment>/runs/``, with no secret in it.

Two guards: results of ``no_log`` tasks are reduced to their status (Ansible already censors
them), and every value of the secrets store, the vault password and any PEM private key are
masked in everything written, whatever field they hide in.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

MASK = "********"
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)
_LOG_MODE = 0o600


class Scrubber:
    """Masks known secret values (longest first) and PEM private keys in any JSON-like value."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {value.strip() for value in secrets} | set(secrets)
        self._secrets = sorted((v for v in values if v), key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return _PRIVATE_KEY.sub(f"-----PRIVATE KEY {MASK}-----", value)

    def value(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, Mapping):
            return {self.text(str(key)): self.value(item) for key, item in data.items()}
        if isinstance(data, list | tuple):
            return [self.value(item) for item in data]
        return data


def timestamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def new_log_path(runs_dir: Path, command: str) -> Path:
    """A fresh ``runs/<timestamp>-<command>.log`` (never an existing file)."""
    runs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = timestamp()
    path = runs_dir / f"{stamp}-{command}.log"
    counter = 1
    while path.exists():
        counter += 1
        path = runs_dir / f"{stamp}-{command}-{counter}.log"
    return path


class RunLog:
    """Append-only JSON lines, flushed per line so an interrupted run keeps what it did."""

    def __init__(self, path: Path, scrubber: Scrubber) -> None:
        self.path = path
        self._scrubber = scrubber
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, _LOG_MODE)
        self._handle: TextIO | None = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        if self._handle is None:
            return
        entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "kind": kind}
        entry.update(fields)
        line = json.dumps(self._scrubber.value(entry), ensure_ascii=False, sort_keys=True)
        self._handle.write(line + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
