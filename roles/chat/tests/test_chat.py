"""testinfra checks of the chat role (run against hosts of the `chat` group)."""

from __future__ import annotations

import json

import pytest
import yaml

VENV = "/opt/souverain-synapse/venv"
PREFIX = "mx-"  # each homeserver's user is mx-<tenant> (ChatSettings.user_prefix)


def tenants(host, *, running: bool = False) -> list[str]:
    """The tenants whose homeserver is on this host; ``running``: those not suspended."""
    found = host.run("ls /etc/souverain/chat")
    names = [name for name in found.stdout.split() if name]
    return [name for name in names if not suspended(host, name)] if running else names


def suspended(host, tenant: str) -> bool:
    """suite.yml suspends the tenant (its homeserver is stopped on purpose)."""
    state = host.file(f"/etc/souverain/chat/{tenant}/state.json")
    return state.exists and json.loads(state.content_string)["suspended"] is True


def homeserver(host, tenant: str) -> dict:
    raw = host.file(f"/etc/souverain/chat/{tenant}/homeserver.yaml").content_string
    return yaml.safe_load(raw)


def test_each_homeserver_runs_and_answers_on_its_socket(host):
    names = tenants(host, running=True)
    if not names:
        pytest.skip("no tenant's homeserver runs on this host")
    for name in names:
        assert host.service(f"souverain-synapse@{name}").is_running
        assert host.service(f"souverain-synapse@{name}").is_enabled
        socket = f"/run/souverain-synapse/{name}/synapse.sock"
        assert host.file(socket).is_socket
        answer = host.run(
            f'{VENV}/bin/python -c "import http.client,socket,sys\n'
            f"c=http.client.HTTPConnection('localhost')\n"
            f"s=socket.socket(socket.AF_UNIX); s.connect('{socket}'); c.sock=s\n"
            f"c.request('GET','/_matrix/client/versions'); r=c.getresponse()\n"
            f'sys.stdout.write(r.read().decode())"'
        )
        assert answer.rc == 0, answer.stderr
        assert "versions" in json.loads(answer.stdout)


def test_synapse_accepts_each_homeserver_configuration(host):
    """Synapse's own parser reads each deployed configuration, with the release it runs
    (the controller has no Synapse: this is where its config check runs every time)."""
    names = tenants(host)
    if not names:
        pytest.skip("no tenant's homeserver runs on this host")
    for name in names:
        checked = host.run(
            f"{VENV}/bin/python -m synapse.config --config-path "
            f"/etc/souverain/chat/{name}/homeserver.yaml"
        )
        assert checked.rc == 0, f"{name}: {checked.stdout}{checked.stderr}"
        assert "Config parses OK!" in checked.stdout, checked.stdout


def test_homeservers_run_a_complete_virtualenv_through_the_link(host):
    if not tenants(host):
        pytest.skip("no tenant's homeserver runs on this host")
    link = host.file(VENV)
    assert link.is_symlink, "the unit's virtualenv is a link to the pinned release's"
    target = link.linked_to
    assert target.startswith("/opt/souverain-synapse/synapse-")
    marker = host.file(f"{target}/souverain-complete").content_string
    assert marker.startswith("matrix-synapse==")


def test_homeserver_runs_unprivileged_and_sandboxed(host):
    for name in tenants(host):
        unit = f"souverain-synapse@{name}.service"
        shown = host.run(
            f"systemctl show {unit} -p User -p NoNewPrivileges -p ProtectSystem "
            "-p PrivateDevices -p CapabilityBoundingSet"
        ).stdout
        assert f"User={PREFIX}{name}" in shown
        assert "NoNewPrivileges=yes" in shown
        assert "ProtectSystem=strict" in shown
        assert "PrivateDevices=yes" in shown
        assert "CapabilityBoundingSet=" in shown.splitlines()


@pytest.mark.parametrize(
    "secret",
    ["signing.key", "macaroon_secret_key", "form_secret", "ldap_bind_password", "pgpass"],
)
def test_secrets_are_readable_by_the_tenants_homeserver_only(host, secret):
    for name in tenants(host):
        item = host.file(f"/etc/souverain/chat/{name}/{secret}")
        assert item.exists
        assert item.user == f"{PREFIX}{name}" and item.mode == 0o600


def test_sovereign_defaults_are_in_force(host):
    for name in tenants(host):
        conf = homeserver(host, name)
        assert conf["report_stats"] is False
        assert conf["trusted_key_servers"] == []
        assert str(conf["federation_client_minimum_tls_version"]) in ("1.2", "1.3")
        assert conf["enable_registration"] is False
        assert "default_identity_server" not in conf
        assert conf["password_config"]["localdb_enabled"] is False
        if conf["federation_domain_whitelist"] == []:
            for listener in conf["listeners"]:
                for resource in listener["resources"]:
                    assert "federation" not in resource["names"]


def test_synapse_parses_its_configuration(host):
    for name in tenants(host):
        check = host.run(
            f"{VENV}/bin/python -m synapse.config --config-path "
            f"/etc/souverain/chat/{name}/homeserver.yaml"
        )
        assert check.rc == 0, check.stderr
        assert "Config parses OK" in check.stdout


def test_media_store_is_private(host):
    for name in tenants(host):
        media = host.file(f"/var/lib/souverain-synapse/{name}/media")
        assert media.is_directory and media.user == f"{PREFIX}{name}"
        assert media.mode == 0o700


def test_each_homeserver_runs_as_its_tenants_own_user(host):
    for name in tenants(host):
        pid = host.run(f"systemctl show -p MainPID --value souverain-synapse@{name}").stdout
        # Wide columns: ps shows a longer name than its default width as "mx-seco+".
        owner = host.run(f"ps -o user:32=,group:32= -p {pid.strip()}").stdout.split()
        assert owner == [f"{PREFIX}{name}", "www-data"]


def as_homeserver(host, tenant: str, command: str):
    """``command`` with the credentials the unit gives the tenant's homeserver (its user,
    group www-data and no other group)."""
    return host.run(
        f"setpriv --reuid={PREFIX}{tenant} --regid=www-data --clear-groups -- {command}"
    )


@pytest.mark.parametrize(
    ("reader", "path"),
    [("cat", "/etc/souverain/chat/{}/signing.key"), ("cat", "/etc/souverain/chat/{}/pgpass"),
     ("ls", "/var/lib/souverain-synapse/{}"), ("ls", "/var/lib/souverain-synapse/{}/media")],
)  # fmt: skip
def test_one_homeserver_cannot_read_anothers_files(host, reader, path):
    """Behaviour, not modes: each tenant's homeserver reads its own key and media store and
    not those of any other tenant."""
    names = tenants(host)
    if len(names) < 2:
        pytest.skip("one homeserver on this host: nothing to keep apart")
    for own in names:
        mine = as_homeserver(host, own, f"{reader} {path.format(own)}")
        assert mine.rc == 0, f"{PREFIX}{own} cannot read its own {path.format(own)}"
        for other in names:
            if other != own:
                theirs = as_homeserver(host, own, f"{reader} {path.format(other)}")
                assert theirs.rc != 0, f"{PREFIX}{own} reads {path.format(other)}"
