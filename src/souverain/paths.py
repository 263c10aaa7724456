"""Where the project's own files are: roles, playbooks and the installer's templates.

souverain runs from its project tree (like any Ansible project); SOUVERAIN_HOME overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("SOUVERAIN_HOME") or Path(__file__).resolve().parents[2])
ROLES_DIR = PROJECT_ROOT / "roles"
PLAYBOOKS_DIR = PROJECT_ROOT / "playbooks"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
COLLECTIONS_DIR = PROJECT_ROOT / "collections"
