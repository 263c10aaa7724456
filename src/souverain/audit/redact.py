"""Secrets never reach a report: every known secret value is masked in every evidence text.

Files stored vault-encrypted in the build are read in memory only; from them, evidence keeps
keys and plain words and masks anything that looks like a credential, even a value the
secret store does not know (set by hand, derived, hashed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "«redacted»"
_MIN_SECRET = 6  # shorter values (a "1", a "yes") would mask ordinary words
_TOKEN = re.compile(r"[^\s=:;,\"'()\[\]{}]+")
# A plain word: lowercase identifiers, paths, numbers, domain names, CIDRs.
_PLAIN = re.compile(
    r"^(?:[-+~&@%!]?[a-z_*@][a-z0-9_.*@-]*|/[A-Za-z0-9_./*-]*|[0-9.]+[a-z]*|[A-Za-z][a-z]*)$"
)


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def strict(self, text: str) -> str:
        """For lines of secret files: known secrets and credential-looking tokens masked."""
        return _TOKEN.sub(_mask_token, self(text))


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if token == MASK or _PLAIN.match(token) or len(token) < 8:
        if token.startswith((">", "#")) and len(token) > 1:  # redis ACL passwords and hashes
            return token[0] + MASK
        return token
    return MASK
