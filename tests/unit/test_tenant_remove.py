"""`souverain tenant remove`: the tenant's entry taken out of suite.yml, every other line
kept; the refusals that keep the suite whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from souverain.model.loader import load_suite
from souverain.model.yamledit import LayoutRefused
from souverain.model.yamlremove import remove_entry

SUITE = """\
# Our tenants.
tenants:
# The town hall.
- id: mairie
  name: Mairie
  domain: mairie.example.org
- id: ecole   # the school
  name: "École"
  # its own mail only
  components: [mail]
  domain: ecole.example.org

# The library, next.
- id: bib
  domain: bib.example.org
components: {}
"""


def test_the_entry_goes_and_every_other_line_stays():
    removal = remove_entry(SUITE, ("tenants",), "id", "ecole")
    assert removal.text == SUITE.replace(
        '- id: ecole   # the school\n  name: "École"\n  # its own mail only\n'
        "  components: [mail]\n  domain: ecole.example.org\n",
        "",
    )
    assert (removal.first_line, removal.last_line) == (7, 11)
    assert removal.removed.startswith("- id: ecole")


def test_the_last_entry_goes_and_what_follows_the_list_stays():
    removal = remove_entry(SUITE, ("tenants",), "id", "bib")
    assert removal.text.endswith("# The library, next.\ncomponents: {}\n")
    assert "bib" not in removal.text


def test_crlf_lines_are_kept():
    text = SUITE.replace("\n", "\r\n")
    removal = remove_entry(text, ("tenants",), "id", "ecole")
    assert removal.text == remove_entry(SUITE, ("tenants",), "id", "ecole").text.replace(
        "\n", "\r\n"
    )


def test_an_entry_written_as_a_flow_mapping_is_refused():
    with pytest.raises(LayoutRefused, match="flow mapping"):
        remove_entry("tenants:\n- {id: a}\n- {id: b}\n", ("tenants",), "id", "b")


@pytest.fixture
def two_tenants(souverain, deployment_dir: Path) -> Path:
    added = souverain(
        "-C", str(deployment_dir), "tenant", "add", "beta", "--domain", "beta.example.org"
    )
    assert added.code == 0, added.err
    return deployment_dir


def test_remove_then_add_gives_the_file_back(souverain, two_tenants: Path):
    suite_file = two_tenants / "suite.yml"
    with_beta = suite_file.read_bytes()
    removed = souverain("-C", str(two_tenants), "tenant", "remove", "beta")
    assert removed.code == 0, removed.err
    assert "souverain deploy --remove-tenant beta" in removed.out
    assert "beta" not in [t.id for t in load_suite(suite_file).tenants]
    assert "beta" not in suite_file.read_text()
    again = souverain(
        "-C", str(two_tenants), "tenant", "add", "beta", "--domain", "beta.example.org"
    )
    assert again.code == 0, again.err
    assert suite_file.read_bytes() == with_beta


def test_dry_run_writes_nothing(souverain, two_tenants: Path):
    suite_file = two_tenants / "suite.yml"
    before = suite_file.read_bytes()
    dry = souverain("-C", str(two_tenants), "tenant", "remove", "beta", "--dry-run", "--json")
    assert dry.code == 0, dry.err
    assert json.loads(dry.out)["written"] is False and "- id: beta" in json.loads(dry.out)["entry"]
    assert suite_file.read_bytes() == before


def test_the_only_tenant_and_the_first_without_a_pinned_suffix_are_refused(
    souverain, deployment_dir: Path
):
    suite_file = deployment_dir / "suite.yml"
    [only] = load_suite(suite_file).tenants
    refused = souverain("-C", str(deployment_dir), "tenant", "remove", only.id)
    assert refused.code == 2 and "only tenant" in refused.err, refused.err
    added = souverain("-C", str(deployment_dir), "tenant", "add", "beta", "--domain", "b.example")
    assert added.code == 0, added.err
    before = suite_file.read_bytes()
    first = souverain("-C", str(deployment_dir), "tenant", "remove", only.id)
    assert first.code == 2 and "suffix" in first.err, first.err
    assert suite_file.read_bytes() == before
    unknown = souverain("-C", str(deployment_dir), "tenant", "remove", "gamma")
    assert unknown.code == 2 and "unknown tenant" in unknown.err
