"""`souverain tenant add/list/show`: suite.yml edited in place, conflicts located, views."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from souverain.cli import cli
from souverain.model.loader import load_suite
from tests.unit.textdiff import added_lines

# The scaffolded suite.yml (souverain init) puts `- id: acme` on line 27, its domain on 29.
ID_LINE, DOMAIN_LINE = 27, 29

SECOND_TENANT = """\
  # Between tenants: the second one, with an extra domain.
  - id: globex   # a trailing comment
    name: 'Globex'
    domain: globex.example.org
    extra_domains: [globex.example.net]
    # quotas left at their defaults
"""


@pytest.fixture
def suite_file(deployment_dir: Path) -> Path:
    """The scaffolded suite.yml with a second tenant, comments around it, and one at the end."""
    path = deployment_dir / "suite.yml"
    text = path.read_text()
    marker = "\ncomponents:\n"
    head, tail = text.split(marker, 1)
    path.write_text(head.rstrip("\n") + "\n" + SECOND_TENANT + marker + tail + "# the end\n")
    return path


def run(souverain, suite_file: Path, *args: str):
    return souverain("-C", str(suite_file.parent), "tenant", *args)


def test_every_tenant_subcommand_has_help():
    for command in ("add", "suspend", "resume", "list", "show"):
        result = CliRunner().invoke(cli, ["tenant", command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output


def test_add_inserts_only_the_entry_lines_and_keeps_every_comment(souverain, suite_file: Path):
    before = suite_file.read_text()
    result = run(
        souverain,
        suite_file,
        "add",
        "initech",
        "--domain",
        "initech.example.org",
        "--name",
        "Initech SA",
        "--extra-domain",
        "initech.example.net",
        "--component",
        "mail",
        "--component",
        "drive",
        "--quota",
        "mail_mb=4096",
    )
    assert result.code == 0, result.err
    after = suite_file.read_text()
    # The last tenant quotes its name with single quotes: the new one follows it.
    assert added_lines(before, after) == [
        "  - id: initech\n",
        "    name: 'Initech SA'\n",
        "    domain: initech.example.org\n",
        "    extra_domains: [initech.example.net]\n",
        "    components: [mail, drive]\n",
        "    quotas:\n",
        "      mail_mb: 4096\n",
    ]
    assert "    # quotas left at their defaults\n  - id: initech\n" in after
    assert after.endswith("# the end\n")
    suite = load_suite(suite_file)
    assert [t.id for t in suite.tenants] == ["acme", "globex", "initech"]
    assert suite.tenants[2].quotas.mail_mb == 4096 and suite.tenants[2].quotas.drive_gb == 10
    assert "Added tenant initech (Initech SA)" in result.out
    assert "souverain deploy" in result.out
    assert "`souverain deploy --tenant initech`" in result.out


def test_add_with_only_a_domain_names_the_tenant_after_its_id(souverain, deployment_dir: Path):
    suite_file = deployment_dir / "suite.yml"
    before = suite_file.read_text()
    result = run(souverain, suite_file, "add", "beta", "--domain", "beta.example.org")
    assert result.code == 0, result.err
    assert added_lines(before, suite_file.read_text()) == [
        "  - id: beta\n",
        '    name: "beta"\n',
        "    domain: beta.example.org\n",
    ]


def test_add_json(souverain, suite_file: Path):
    result = run(souverain, suite_file, "add", "beta", "--domain", "Beta.Example.org.", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert payload["ok"] and payload["written"]
    assert payload["tenant"] == {
        "id": "beta",
        "name": "beta",
        "domains": ["beta.example.org"],
        "components": ["mail", "chat", "visio", "drive"],
        "suspended": False,
    }
    first, last = payload["lines"]
    lines = suite_file.read_text().splitlines()[first - 1 : last]
    assert "\n".join(lines) + "\n" == payload["entry"]


def test_dry_run_writes_nothing(souverain, suite_file: Path):
    before = suite_file.read_bytes()
    result = run(souverain, suite_file, "add", "beta", "--domain", "beta.example.org", "--dry-run")
    assert result.code == 0, result.err
    assert "Would add tenant beta" in result.out and "Nothing was written" in result.out
    assert suite_file.read_bytes() == before


def test_add_keeps_the_mode_and_owner_and_follows_a_link(souverain, suite_file: Path):
    suite_file.chmod(0o640)
    owner = suite_file.stat().st_uid, suite_file.stat().st_gid
    real = suite_file.with_name("suite.real.yml")
    suite_file.rename(real)
    suite_file.symlink_to(real.name)
    result = run(souverain, suite_file, "add", "beta", "--domain", "beta.example.org")
    assert result.code == 0, result.err
    assert suite_file.is_symlink()
    assert real.stat().st_mode & 0o7777 == 0o640
    assert (real.stat().st_uid, real.stat().st_gid) == owner
    assert "id: beta" in real.read_text()
    assert not [p for p in suite_file.parent.iterdir() if p.name.endswith(".tmp")]


def conflict(souverain, suite_file: Path, *args: str):
    before = suite_file.read_bytes()
    result = run(souverain, suite_file, "add", *args)
    assert result.code == 2, result.out
    assert suite_file.read_bytes() == before
    assert "Traceback" not in result.err
    return result.err


def test_an_id_already_used_is_refused_at_the_entry_that_has_it(souverain, suite_file: Path):
    err = conflict(souverain, suite_file, "acme", "--domain", "new.example.org")
    assert f"{suite_file}:{ID_LINE}:9: [tenants[0].id] tenant id 'acme' is already used" in err
    assert f"the tenant at {suite_file}:{ID_LINE}" in err
    assert "nothing was written" in err


def test_a_domain_already_used_is_refused_at_the_entry_that_has_it(souverain, suite_file: Path):
    err = conflict(souverain, suite_file, "new", "--domain", "ACME.example.org")
    assert f"{suite_file}:{DOMAIN_LINE}:13: [tenants[0].domain]" in err
    assert f"domain acme.example.org is already used by tenant acme at {suite_file}:29" in err


def test_an_extra_domain_already_used_is_refused_either_way(souverain, suite_file: Path):
    text = suite_file.read_text().splitlines()
    extra_line = text.index("    extra_domains: [globex.example.net]") + 1
    err = conflict(souverain, suite_file, "new", "--domain", "globex.example.net")
    assert f"{suite_file}:{extra_line}:21: [tenants[1].extra_domains[0]]" in err
    assert "used by tenant globex" in err
    err = conflict(
        souverain,
        suite_file,
        "new",
        "--domain",
        "n.example.org",
        "--extra-domain",
        "acme.example.org",
    )
    assert f"{suite_file}:{DOMAIN_LINE}:" in err


def test_an_unknown_component_is_refused_with_the_known_ones(souverain, suite_file: Path):
    err = conflict(
        souverain, suite_file, "new", "--domain", "n.example.org", "--component", "proxy"
    )
    assert "command line: [--component] 'proxy' is not a component a tenant switches" in err
    assert "hint: one of: mail, chat, visio, drive" in err


def test_a_component_off_suite_wide_is_refused_at_its_settings(souverain, suite_file: Path):
    text = suite_file.read_text()
    suite_file.write_text(
        text.replace("  visio:\n    guests_allowed: false\n", "  visio:\n    enabled: false\n")
    )
    line = suite_file.read_text().splitlines().index("    enabled: false") + 1
    err = conflict(
        souverain, suite_file, "new", "--domain", "n.example.org", "--component", "visio"
    )
    assert f"{suite_file}:{line}:14: [components.visio.enabled] visio is disabled" in err


@pytest.mark.parametrize(
    ("quota", "said"),
    [
        ("disk_gb=3", "unknown quota 'disk_gb'"),
        ("mail_mb", "'mail_mb' is not KEY=VALUE"),
        ("mail_mb=lots", "'lots' is not a whole number"),
        ("mail_mb=1", "[--quota mail_mb]"),  # below the model's bound (10 MB)
    ],
)
def test_a_bad_quota_is_refused(souverain, suite_file: Path, quota: str, said: str):
    err = conflict(souverain, suite_file, "new", "--domain", "n.example.org", "--quota", quota)
    assert said in err


def test_a_bad_domain_or_id_is_refused_naming_the_option(souverain, suite_file: Path):
    err = conflict(souverain, suite_file, "new", "--domain", "localhost")
    assert "[--domain] expected a fully qualified domain name" in err
    err = conflict(souverain, suite_file, "New_One", "--domain", "n.example.org")
    assert "[ID] expected an identifier" in err


def test_a_suite_invalid_with_the_entry_is_not_written(souverain, suite_file: Path):
    """The model's cross-field rules see what conflicts.py does not: a name the suite makes."""
    err = conflict(souverain, suite_file, "new", "--domain", "auth.acme.example.org")
    assert "the new tenant entry: [tenants[2].domain]" in err
    assert "would not be valid" not in err  # the problems are listed, then "nothing was written"
    assert "nothing was written" in err


def test_an_invalid_suite_is_reported_before_anything_else(souverain, suite_file: Path):
    suite_file.write_text(suite_file.read_text().replace("hosting:", "hostin:"))
    err = conflict(souverain, suite_file, "new", "--domain", "n.example.org")
    assert "unknown setting 'hostin'" in err


def test_a_flow_list_of_tenants_is_refused_with_what_to_change(souverain, deployment_dir: Path):
    suite_file = deployment_dir / "suite.yml"
    text = suite_file.read_text()
    start = text.index("tenants:\n")
    end = text.index("\ncomponents:\n")
    suite_file.write_text(
        text[:start] + "tenants: [{id: acme, name: Acme, domain: acme.example.org}]\n" + text[end:]
    )
    err = conflict(souverain, suite_file, "new", "--domain", "n.example.org")
    assert f"{suite_file}:26: [tenants] cannot add the tenant cleanly" in err
    assert "flow list" in err and "write it as a block list" in err


def test_list_text_and_json(souverain, suite_file: Path):
    result = run(souverain, suite_file, "list")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "acme    Acme    acme.example.org                        mail, chat, visio, drive",
        "globex  Globex  globex.example.org, globex.example.net  mail, chat, visio, drive",
    ]
    as_json = run(souverain, suite_file, "list", "--json")
    assert json.loads(as_json.out) == {
        "suite": "acme",
        "tenants": [
            {
                "id": "acme",
                "name": "Acme",
                "domains": ["acme.example.org"],
                "components": ["mail", "chat", "visio", "drive"],
                "suspended": False,
            },
            {
                "id": "globex",
                "name": "Globex",
                "domains": ["globex.example.org", "globex.example.net"],
                "components": ["mail", "chat", "visio", "drive"],
                "suspended": False,
            },
        ],
    }


def test_show_json_gives_fields_components_hosts_and_services(souverain, suite_file: Path):
    run(souverain, suite_file, "add", "beta", "--domain", "beta.example.org", "--component", "mail")
    result = run(souverain, suite_file, "show", "beta", "--json")
    assert result.code == 0, result.err
    payload = json.loads(result.out)
    assert {k: payload[k] for k in ("id", "name", "domain", "extra_domains", "quotas")} == {
        "id": "beta",
        "name": "beta",
        "domain": "beta.example.org",
        "extra_domains": [],
        "quotas": {"mail_mb": 2048, "drive_gb": 10},
    }
    assert payload["components_listed"] == payload["components"] == ["mail"]
    [host] = payload["hosts"]
    assert host["name"] == "srv1" and "mail" in host["components"]
    assert "drive" not in host["components"] and "base" not in host["components"]
    urls = {service["role"]: service["url"] for service in payload["services"]}
    assert urls["webmail"] == "https://webmail.beta.example.org/"
    assert "files" not in urls


def test_show_text_and_info_agree_on_services(souverain, suite_file: Path):
    info = json.loads(souverain("-C", str(suite_file.parent), "info", "--json").out)
    shown = json.loads(run(souverain, suite_file, "show", "globex", "--json").out)
    [globex] = [t for t in info["tenants"] if t["id"] == "globex"]
    assert shown["services"] == globex["services"]
    result = run(souverain, suite_file, "show", "globex")
    assert result.code == 0, result.err
    assert "Tenant globex (Globex)" in result.out
    assert "extra domains: globex.example.net" in result.out
    assert "components: mail, chat, visio, drive (all enabled suite-wide)" in result.out
    assert "https://drive.globex.example.org/" in result.out


def test_show_of_an_unknown_id_lists_the_known_ones(souverain, suite_file: Path):
    result = run(souverain, suite_file, "show", "globx")
    assert result.code == 2
    assert "unknown tenant 'globx'; suite.yml has: acme, globex" in result.err
    assert "did you mean 'globex'?" in result.err
    as_json = run(souverain, suite_file, "show", "nope", "--json")
    assert as_json.code == 2
    assert json.loads(as_json.out)["ok"] is False


def test_names_with_rich_markup_are_printed_as_written(souverain, suite_file: Path):
    """A display name may hold any printable text: rich must not read it as markup."""
    name = "Acme [/b] [bold]SA[/bold]"
    result = run(souverain, suite_file, "add", "beta", "--domain", "b.example.org", "--name", name)
    assert result.code == 0, result.err
    shown = run(souverain, suite_file, "show", "beta")
    assert shown.code == 0, shown.err
    assert f"Tenant beta ({name})" in shown.out
    info = souverain("-C", str(suite_file.parent), "info")
    assert info.code == 0, info.err
    assert f"Tenant beta ({name})" in info.out
    listed = run(souverain, suite_file, "list")
    assert name in listed.out


def test_the_new_entry_is_what_the_loader_reads_back(souverain, suite_file: Path):
    """The entry written round-trips through the real loader: name quoting survives YAML."""
    name = "O'Brien & Co: #1"
    result = run(souverain, suite_file, "add", "ob", "--domain", "ob.example.org", "--name", name)
    assert result.code == 0, result.err
    assert load_suite(suite_file).tenants[-1].name == name
    assert os.access(suite_file, os.R_OK)
