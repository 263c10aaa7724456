"""Host layouts the tests of `info` and `dns` put a suite on, as suite.yml lists them."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

ONE_HOST = [{"name": "srv1", "address": "192.0.2.10"}]
# The front carries the proxy and what signs users in; every other component has its own
# host, so that each web name is received by the front and served elsewhere.
FOUR_HOSTS = [
    {"name": "front", "address": "192.0.2.10", "components": ["proxy", "directory", "sso"]},
    {"name": "mail", "address": "192.0.2.11", "components": ["mail"]},
    {"name": "data", "address": "192.0.2.12", "components": ["postgresql"]},
    {
        "name": "apps",
        "address": "192.0.2.13",
        "components": ["redis", "chat", "visio", "drive"],
    },
]


def place(suite_file: Path, hosts: list[dict]) -> None:
    """Rewrite the hosts of ``suite_file`` (comments and the rest kept)."""
    yaml = YAML()
    yaml.preserve_quotes = True
    data = yaml.load(suite_file.read_text())
    data["hosts"] = hosts
    if len(hosts) > 1 and not any("backup" in host.get("components", []) for host in hosts):
        # `init` turns backups on for its one host; these layouts keep no repositories.
        data["components"]["backup"]["enabled"] = False
    with suite_file.open("w") as stream:
        yaml.dump(data, stream)
