"""The run log: JSON lines, and no secret value ever written, whatever field it hides in."""

from __future__ import annotations

import json
import stat

from souverain.runner.events import task_result
from souverain.runner.runlog import MASK, RunLog, Scrubber, new_log_path

SECRETS = frozenset({"s3cr3t-Pa55word-xyz", "vault-password-Q9", "ldap-admin-7f3e"})
KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
    "-----END PRIVATE KEY-----"
)


def test_scrubber_masks_secrets_everywhere():
    scrubber = Scrubber(SECRETS)
    data = {
        "msg": "login failed for admin:s3cr3t-Pa55word-xyz",
        "nested": [{"cmd": ["ldapadd", "-w", "ldap-admin-7f3e"]}, ("vault-password-Q9",)],
        "s3cr3t-Pa55word-xyz": 1,
        "count": 3,
        "pem": f"found {KEY} in file",
    }
    text = json.dumps(scrubber.value(data))
    for secret in SECRETS:
        assert secret not in text
    assert "MIGHAgEAMBMG" not in text
    assert MASK in text
    assert '"count": 3' in text


def test_secret_inside_a_longer_secret_is_masked_whole():
    scrubber = Scrubber({"abc123", "xxabc123yy"})
    assert scrubber.text("v=xxabc123yy") == f"v={MASK}"


def test_run_log_writes_no_secret(tmp_path):
    path = new_log_path(tmp_path / "runs", "deploy")
    assert path.name.endswith("-deploy.log")
    events = [
        {
            "event": "runner_on_failed",
            "event_data": {
                "host": "host1",
                "role": "directory",
                "task": "Create the admin",
                "res": {
                    "msg": "bind failed with password ldap-admin-7f3e",
                    "stderr": "ldap_bind: Invalid credentials (49) for s3cr3t-Pa55word-xyz",
                },
            },
        },
        {
            "event": "runner_on_ok",
            "event_data": {
                "host": "host1",
                "role": "directory",
                "task": "Set the password",
                "res": {"censored": "hidden: no_log", "changed": True},
            },
        },
    ]
    with RunLog(path, Scrubber(SECRETS)) as log:
        log.write("start", command="deploy vault-password-Q9")
        for event in events:
            result = task_result(event)
            assert result is not None
            log.write("task", **result.as_dict())
    content = path.read_text()
    for secret in SECRETS:
        assert secret not in content
    lines = [json.loads(line) for line in content.splitlines()]
    assert [line["kind"] for line in lines] == ["start", "task", "task"]
    assert lines[1]["status"] == "failed"
    assert "Invalid credentials" in lines[1]["msg"]
    assert "msg" not in lines[2] and lines[2]["censored"] is True
    assert lines[2]["changed"] is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_log_names_never_collide(tmp_path):
    first = new_log_path(tmp_path, "deploy")
    first.write_text("")
    second = new_log_path(tmp_path, "deploy")
    assert second != first
