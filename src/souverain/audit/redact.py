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
    """Masks every known secret value in a text.

    Thousands of values (one suite, many tenants) make one big regex slow to build, so the
    values are indexed by their first characters and the text is scanned once.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._by_prefix: dict[str, list[str]] = {}
        for value in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len):
            self._by_prefix.setdefault(value[:_MIN_SECRET], []).insert(0, value)  # longest first

    def __call__(self, text: str) -> str:
        index = self._by_prefix
        if not index or len(text) < _MIN_SECRET:
            return text
        # Most texts hold no secret: one set of the text's windows says so at C speed.
        windows = {text[i : i + _MIN_SECRET] for i in range(len(text) - _MIN_SECRET + 1)}
        if index.keys().isdisjoint(windows):
            return text
        parts: list[str] = []
        start = position = 0
        end = len(text) - _MIN_SECRET + 1
        while position < end:
            candidates = index.get(text[position : position + _MIN_SECRET])
            found = next((v for v in candidates or () if text.startswith(v, position)), None)
            if found is None:
                position += 1
                continue
            parts += [text[start:position], MASK]
            position = start = position + len(found)
        if not parts:
            return text
        parts.append(text[start:])
        return "".join(parts)

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
