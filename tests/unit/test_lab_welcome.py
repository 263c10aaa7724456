"""`souverain lab welcome`: the names to resolve, the CA to trust and where to sign in, as the
README's "Your first hour" shows them; the /etc/hosts block it writes on request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from souverain.lab import welcome
from souverain.lab.naming import DOMAIN_SUFFIX, default_subnet, host_address
from souverain.model.loader import parse_suite
from souverain.scaffold import lab_suite_yaml

PROJECT = Path(__file__).resolve().parents[2]


def demo_suite(hosts: int = 1):
    subnet = default_subnet("demo")
    text = lab_suite_yaml(
        [(f"host{i}", str(host_address(subnet, i))) for i in range(1, hosts + 1)],
        domain=f"demo.{DOMAIN_SUFFIX}",
        private_key_file="lab/id_ed25519",
        known_hosts_file="lab/known_hosts",
        extra_ca_files=[],
        admin_networks=[str(subnet)],
    )
    return parse_suite(text, Path("suite.yml"))


def test_the_names_resolve_to_the_host_that_receives_them():
    lines = welcome.hosts_lines(demo_suite())
    assert {line.split()[0] for line in lines} == {"10.231.43.11"}
    assert all(len(line) <= welcome.HOSTS_LINE_WIDTH for line in lines)
    names = [name for line in lines for name in line.split()[1:]]
    for name in ("demo.lab.test", "auth.demo.lab.test", "webmail.demo.lab.test",
                 "mail.demo.lab.test", "matrix.demo.lab.test", "chat.demo.lab.test"):  # fmt: skip
        assert name in names
    assert len(names) == len(set(names))


def test_the_text_names_the_password_file_and_where_to_start(tmp_path: Path):
    text = welcome.welcome_text(demo_suite(), tmp_path, "demo")
    assert "password in demo/lab/demo-demo.password" in text
    assert "https://auth.demo.lab.test/" in text
    assert "https://webmail.demo.lab.test/" in text
    assert "https://chat.demo.lab.test/" in text
    assert "demo/pki/ca.crt" in text
    assert "10.231.43.11 demo.lab.test" in text


def test_the_password_file_is_for_its_owner_only(tmp_path: Path):
    path = tmp_path / "lab" / "demo-demo.password"
    welcome.write_password(path, "s3cret-Passw0rd-long")
    assert path.read_text() == "s3cret-Passw0rd-long\n"
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_hosts_block_is_added_then_replaced_and_nothing_else_moves(tmp_path: Path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost ip6-localhost\n")
    suite = demo_suite()
    assert welcome.apply_hosts(suite, hosts) is True
    first = hosts.read_text()
    assert first.startswith("127.0.0.1 localhost\n::1 localhost ip6-localhost\n\n")
    assert "# BEGIN souverain suite demo\n10.231.43.11 demo.lab.test " in first
    assert first.endswith("# END souverain suite demo\n")
    assert welcome.apply_hosts(suite, hosts) is False
    # Another suite's block and later lines stay; this suite's block is replaced in place.
    hosts.write_text(first.replace("10.231.43.11", "10.0.0.1") + "10.9.9.9 other\n")
    assert welcome.apply_hosts(suite, hosts) is True
    text = hosts.read_text()
    assert "10.0.0.1" not in text and "10.9.9.9 other" in text
    assert text.count("# BEGIN souverain suite demo") == 1


def test_an_empty_hosts_file_gets_the_block_alone(tmp_path: Path):
    hosts = tmp_path / "hosts"
    welcome.apply_hosts(demo_suite(), hosts)
    assert hosts.read_text().startswith("# BEGIN souverain suite demo\n")


def first_hour_block() -> str:
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("## Your first hour", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```text\n(.*?)```", section, re.DOTALL)
    assert blocks, "the README's first hour shows what `make demo` prints"
    return blocks[0]


def test_the_readme_shows_what_make_demo_prints(tmp_path: Path):
    expected = welcome.welcome_text(demo_suite(), tmp_path, "demo")
    assert first_hour_block() == expected


@pytest.mark.parametrize("line", ["lab welcome", "make demo"])
def test_the_readme_first_hour_names_the_commands(line: str):
    readme = (PROJECT / "README.md").read_text()
    assert line in readme.split("## Your first hour", 1)[1].split("\n## ", 1)[0]
