"""The backup agent's judgement of borg's output (roles/backup/files/souverain-backup)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

AGENT = Path(__file__).resolve().parents[2] / "roles/backup/files/souverain-backup"


def agent():
    loader = importlib.machinery.SourceFileLoader("souverain_backup_agent", str(AGENT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


# What borgmatic 1.9 with borg 1.4 printed on a lab host, intact then with a segment damaged.
INTACT = """host2: Running consistency checks
Remote: Starting repository check
Remote: finished segment check at segment 25
Remote: Starting repository index check
Remote: Index object count match.
Remote: Finished full repository check, no problems found.
Starting archive consistency check...
Archive consistency check complete, no problems found.
"""
DAMAGED = """host2: Running consistency checks
Remote: Starting repository check
Remote: Data integrity error: Segment entry checksum mismatch [segment 2, offset 3163]
Remote: finished segment check at segment 25
Remote: Starting repository index check
Remote: Index object count mismatch.

summary:
Successfully ran configuration file
"""


def test_an_intact_repository_reports_no_damage():
    assert agent().damage_found(INTACT) == []


def test_damage_is_found_although_borgmatic_says_it_succeeded():
    found = agent().damage_found(DAMAGED)
    assert found[0].startswith("Remote: Data integrity error")
    assert "Remote: Index object count mismatch." in found
