"""The lab state file: round trip, lookup of hosts, listing of labs."""

from __future__ import annotations

import pytest

from souverain.errors import LabError
from souverain.lab import state


def a_lab(name: str = "demo") -> state.LabState:
    hosts = [
        state.HostState(
            index=i,
            name=f"host{i}",
            address=f"10.231.5.{10 + i}",
            netns=f"svl-{name}-{i}",
            veth=f"svl-{name}-{i}",
            machine=f"svl-{name}-{i}",
            root=f"/var/lib/souverain/lab/{name}/host{i}",
            log=f"/var/lib/souverain/lab/{name}/host{i}.log",
        )
        for i in (1, 2)
    ]
    return state.LabState(
        name=name,
        subnet="10.231.5.0/24",
        gateway="10.231.5.1",
        bridge=f"svl-{name}",
        nft_table=f"svl_{name}",
        release="trixie",
        image="/var/cache/souverain/images/trixie-x",
        directory="/tmp/lab-demo",
        domain=f"{name}.lab.test",
        hosts=hosts,
    )


def test_state_round_trips_through_its_file(tmp_path):
    lab = a_lab()
    lab.hosts[0].pid = 4242
    lab.hosts[0].failed_units = ["getty@tty1.service"]
    state.save(lab, tmp_path)
    assert state.load("demo", tmp_path) == lab
    assert (tmp_path / "demo" / "state.json").stat().st_mode & 0o777 == 0o600


def test_missing_state_is_none_and_broken_state_an_error(tmp_path):
    assert state.load("demo", tmp_path) is None
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "state.json").write_text("{not json")
    with pytest.raises(LabError):
        state.load("demo", tmp_path)


@pytest.mark.parametrize(
    "wanted", ["host2", "2", "10.231.5.12", "svl-demo-2", "host2.demo.lab.test"]
)
def test_hosts_are_found_by_name_index_address_machine_or_fqdn(wanted):
    found = a_lab().host(wanted)
    assert found is not None and found.name == "host2"


def test_unknown_host_is_none():
    assert a_lab().host("host9") is None


def test_known_labs_lists_those_with_a_state_file(tmp_path):
    assert state.known_labs(tmp_path / "absent") == []
    state.save(a_lab("one"), tmp_path)
    state.save(a_lab("two"), tmp_path)
    (tmp_path / "stray").mkdir()
    assert state.known_labs(tmp_path) == ["one", "two"]
