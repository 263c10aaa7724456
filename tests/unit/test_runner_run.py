"""A real ansible-runner run on this machine (connection: local): events, log, failure, args."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from souverain.deployment import Deployment
from souverain.runner.events import RunTracker
from souverain.runner.run import DeployOptions, run_playbook

SECRET = "Zq8-not-for-logs-4711"

PLAYBOOK = f"""---
- name: Exercise the runner
  hosts: all
  gather_facts: false
  tasks:
    - name: Change nothing
      ansible.builtin.command: "true"
      changed_when: false
    - name: Handle a secret quietly
      ansible.builtin.debug:
        msg: "{SECRET}"
      no_log: true
    - name: Say what the vault file is
      ansible.builtin.debug:
        msg: "{{{{ lookup('ansible.builtin.env', 'NO_SUCH_VARIABLE') }}}}"
    - name: Fail loudly with a secret in the message
      ansible.builtin.fail:
        msg: "cannot log in with {SECRET}"
      when: inventory_hostname == 'broken'
"""


@pytest.fixture
def deployment(tmp_path: Path) -> Deployment:
    root = tmp_path / "deployment"
    inventory = root / "build" / "inventory"
    inventory.mkdir(parents=True)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    hosts = {"all": {"hosts": {"fine": local, "broken": local}, "children": {}}}
    (inventory / "hosts.yml").write_text(json.dumps(hosts))
    (root / ".vault-password").write_text("unused-vault-password\n")
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    return Deployment.at(root)


def test_real_run_reports_failure_and_logs_no_secret(deployment: Deployment, tmp_path: Path):
    tracker = RunTracker(["fine", "broken"])
    outcome = run_playbook(
        deployment,
        DeployOptions(playbook=tmp_path / "play.yml", mitogen=False),
        secrets=frozenset({SECRET}),
        tracker=tracker,
    )
    assert not outcome.ok
    assert outcome.status == "failed"
    first = tracker.first_failure
    assert first is not None
    assert (first.host, first.task) == ("broken", "Fail loudly with a secret in the message")
    assert first.msg is not None and SECRET not in first.msg
    assert tracker.hosts["fine"].counts["failed"] == 0
    assert tracker.hosts["fine"].counts["ok"] == 3
    assert outcome.tasks_per_host == {"fine": 4, "broken": 4}
    log = outcome.log_path.read_text()
    assert SECRET not in log
    assert "unused-vault-password" not in log
    assert outcome.log_path.parent == deployment.runs_dir
    summary = outcome.summary()
    assert summary["failures"][0]["host"] == "broken"
    assert "broken failed" in summary["error"]


TAGGED = """---
- name: Exercise tags
  hosts: all
  gather_facts: false
  tasks:
    - name: Run when tagged wanted
      ansible.builtin.command: "true"
      changed_when: false
      tags: [wanted]
    - name: Run when tagged other
      ansible.builtin.command: "true"
      changed_when: false
      tags: [other]
    - name: Run untagged
      ansible.builtin.command: "true"
      changed_when: false
"""


def test_limit_and_tags_reach_ansible(deployment: Deployment, tmp_path: Path):
    (tmp_path / "tagged.yml").write_text(TAGGED)
    tracker = RunTracker(["fine", "broken"])
    outcome = run_playbook(
        deployment,
        DeployOptions(playbook=tmp_path / "tagged.yml", limit="fine", tags=("wanted",),
                      mitogen=False),
        secrets=frozenset(),
        tracker=tracker,
    )  # fmt: skip
    assert outcome.ok, outcome.failure_message()
    assert set(outcome.tasks_per_host) == {"fine"}  # the limit
    assert outcome.tasks_per_host == {"fine": 1}  # the tag: one task of three
    assert tracker.hosts["fine"].counts["ok"] == 1
    everything = run_playbook(
        deployment,
        DeployOptions(playbook=tmp_path / "tagged.yml", limit="fine", mitogen=False),
        secrets=frozenset(),
    )
    assert everything.tasks_per_host == {"fine": 3}  # without tags, the same play runs all three


def test_syntax_error_is_reported_without_a_task(deployment: Deployment, tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("---\n- name: Broken\n  hosts: all\n  tasks:\n    - no_such_module: {}\n")
    outcome = run_playbook(
        deployment, DeployOptions(playbook=broken, mitogen=False), secrets=frozenset()
    )
    assert not outcome.ok
    assert outcome.ansible_error and "no_such_module" in outcome.ansible_error
