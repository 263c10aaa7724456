"""model/yamledit.py: an entry added to a hand-written YAML list, every other byte kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from souverain.model.yamledit import (
    LayoutRefused,
    append_to_block_list,
    dump_round_trip,
    load_round_trip,
)
from tests.unit.textdiff import added_lines

ENTRY = {"id": "beta", "name": "Beta", "domain": "beta.example.org", "quotas": {"mail_mb": 4096}}

COMMENTED = """\
# head comment
version: 1   # trailing comment

tenants:   # the organisations
  # before the first tenant
  - id: acme
    name: "Acme"      # quoted on purpose
    domain: acme.example.org

  # between tenants
  - id: other
    name: "Other"
    domain: other.example.org
    quotas:
      mail_mb: 1024   # a small one
    # components: [mail]

# about what follows
components: {}
# the end
"""


def test_the_scaffolded_suite_reads_and_writes_back_byte_for_byte(deployment_dir: Path):
    text = (deployment_dir / "suite.yml").read_text()
    assert dump_round_trip(load_round_trip(text)) == text


def test_only_the_entry_lines_are_added_and_every_comment_stays():
    result = append_to_block_list(COMMENTED, ("tenants",), ENTRY)
    assert added_lines(COMMENTED, result.text) == [
        "  - id: beta\n",
        '    name: "Beta"\n',
        "    domain: beta.example.org\n",
        "    quotas:\n",
        "      mail_mb: 4096\n",
    ]
    # After the last tenant's own (indented) comment, before the blank line and what follows.
    lines = result.text.splitlines()
    assert lines[result.first_line - 2] == "    # components: [mail]"
    assert lines[result.last_line] == ""
    assert (result.first_line, result.last_line) == (17, 21)


def test_the_original_line_of_a_line_after_the_entry():
    result = append_to_block_list(COMMENTED, ("tenants",), ENTRY)
    assert result.original_line(3) == 3
    assert result.original_line(result.first_line) is None
    assert result.original_line(result.last_line + 2) == result.first_line + 1


def test_a_list_that_ends_the_file_without_a_line_break():
    text = "tenants:\n- id: a\n  name: A"
    result = append_to_block_list(text, ("tenants",), {"id": "b", "name": "B"})
    assert result.text == "tenants:\n- id: a\n  name: A\n- id: b\n  name: B\n"


def test_the_file_style_is_followed_indentation_quotes_and_flow_lists():
    text = (
        "tenants:\n"
        "    -   id: a\n"
        "        name: 'A'\n"
        "        extra_domains:\n"
        "          - x.example.org\n"
        "        quotas:\n"
        "            mail_mb: 10\n"
    )
    entry = {
        "id": "b",
        "name": "B's",
        "extra_domains": ["y.example.org"],
        "quotas": {"drive_gb": 1},
    }
    result = append_to_block_list(text, ("tenants",), entry)
    assert added_lines(text, result.text) == [
        "    -   id: b\n",
        "        name: 'B''s'\n",
        "        extra_domains:\n",
        "          - y.example.org\n",
        "        quotas:\n",
        "            drive_gb: 1\n",
    ]


def test_lists_are_flow_lists_when_the_last_entry_does_not_show_one():
    result = append_to_block_list(
        "tenants:\n  - id: a\n", ("tenants",), {"id": "b", "components": ["mail", "chat"]}
    )
    assert result.text.endswith("  - id: b\n    components: [mail, chat]\n")


def test_a_crlf_file_gets_crlf_lines():
    text = "tenants:\r\n  - id: a\r\n# end\r\n"
    result = append_to_block_list(text, ("tenants",), {"id": "b"})
    assert result.text == "tenants:\r\n  - id: a\r\n  - id: b\r\n# end\r\n"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("tenants: [{id: a}]\n", "flow list"),
        ("tenants: []\n", "flow list"),
        ("all: &t\n  - id: a\ntenants: *t\n", "alias"),
        ("tenants:\n  - a\n", "is not a '- key: value' entry"),
        ("tenants: {}\n", "is not a list"),
        ("other: 1\n", "no 'tenants'"),
    ],
)
def test_a_layout_with_no_clean_place_is_refused(text: str, said: str):
    with pytest.raises(LayoutRefused) as refused:
        append_to_block_list(text, ("tenants",), {"id": "b"})
    assert said in refused.value.message


def test_the_flow_refusal_says_what_to_change():
    with pytest.raises(LayoutRefused) as refused:
        append_to_block_list("version: 1\ntenants: [{id: a}]\n", ("tenants",), {"id": "b"})
    assert refused.value.line == 2
    assert "block list" in (refused.value.hint or "")


def test_an_entry_whose_insertion_would_change_other_data_is_refused():
    """The list is anchored and used again elsewhere: adding to it would change both."""
    text = "tenants: &t\n  - id: a\ncopy: *t\n"
    with pytest.raises(LayoutRefused) as refused:
        append_to_block_list(text, ("tenants",), {"id": "b"})
    assert "cleanly" in refused.value.message


def test_a_last_entry_in_flow_style_gets_a_flow_entry():
    text = "tenants:\n  - {id: a, name: A}\n"
    result = append_to_block_list(text, ("tenants",), {"id": "b", "name": "B"})
    assert result.text == "tenants:\n  - {id: a, name: A}\n  - {id: b, name: B}\n"


def test_a_replacement_keeps_mode_and_refuses_a_file_changed_meanwhile(tmp_path: Path):
    from souverain.fsutil import ChangedMeanwhile, replace_keeping_metadata

    path = tmp_path / "suite.yml"
    path.write_text("a: 1\n")
    path.chmod(0o600)
    with pytest.raises(ChangedMeanwhile):
        replace_keeping_metadata(path, b"a: 2\n", expected=b"a: 0\n")
    assert path.read_text() == "a: 1\n"
    replace_keeping_metadata(path, b"a: 2\n", expected=b"a: 1\n")
    assert path.read_text() == "a: 2\n" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["suite.yml"]
