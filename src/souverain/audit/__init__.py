"""`souverain audit`: ANSSI/SecNumCloud-aligned rules checked on the model, the build and hosts.

Rules are data, in each component's room (`roles/<component>/audit/rules.yml`, found through
the component catalog), read by :mod:`.rules`; the engine (:mod:`.engine`) interprets their
declarative checks against the suite model (:mod:`.check_model`), the rendered build
(:mod:`.check_build`) and, with ``--live``, the deployed hosts (:mod:`.check_live`: commands,
named :mod:`.probes`) and independent :mod:`.scanners`. TLS on the wire, probed or scanned, is
judged once, in :mod:`.tlsjudge`. Reports (:mod:`.report`) are rendered from the findings.
Nothing here claims compliance: checks are *aligned with* the documents they cite.
"""

from __future__ import annotations

from souverain.audit.findings import Finding, Report, Verdict

__all__ = ["Finding", "Report", "Verdict"]
