"""model/yamlflag.py: one boolean key of one list entry set or cleared, other lines kept."""

from __future__ import annotations

import pytest

from souverain.model.yamledit import LayoutRefused
from souverain.model.yamlflag import set_entry_flag

SUITE = """\
# the tenants
tenants:
  - id: acme        # first
    name: Acme
    domain: acme.example.org
  # between
  - id: beta
    domain: beta.example.org
    components: [mail]
components: {}
"""


def suspend(text: str, name: str = "beta", value: bool = True) -> str:
    return set_entry_flag(text, ("tenants",), "id", name, "suspended", value)


def test_set_adds_one_line_under_the_id_and_clearing_gives_the_file_back():
    suspended = suspend(SUITE)
    lines = suspended.splitlines()
    assert lines[6:8] == ["  - id: beta", "    suspended: true"]
    assert [line for line in lines if line != "    suspended: true"] == SUITE.splitlines()
    assert suspend(suspended, value=False) == SUITE


def test_the_first_entry_keeps_its_comment():
    suspended = suspend(SUITE, "acme")
    assert suspended.splitlines()[2:4] == ["  - id: acme        # first", "    suspended: true"]


def test_nothing_changes_when_the_flag_already_reads_so():
    assert suspend(SUITE, value=False) == SUITE
    once = suspend(SUITE)
    assert suspend(once) == once


def test_a_written_false_becomes_true_and_its_comment_stays():
    text = SUITE.replace(
        "    domain: beta.example.org\n",
        "    suspended: false  # asked\n    domain: beta.example.org\n",
    )
    assert "    suspended: true  # asked\n" in suspend(text)


def test_crlf_lines_stay_crlf():
    text = SUITE.replace("\n", "\r\n")
    suspended = suspend(text)
    assert "    suspended: true\r\n" in suspended
    assert "\n" not in suspended.replace("\r\n", "")
    assert suspend(suspended, value=False) == text


def test_a_flag_on_the_dash_line_is_cleared_in_place():
    text = SUITE.replace("  - id: beta\n", "  - suspended: true\n    id: beta\n")
    assert "  - suspended: false\n" in suspend(text, value=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (SUITE.replace("  - id: beta\n    domain: beta.example.org\n    components: [mail]\n",
                       "  - {id: beta, domain: beta.example.org}\n"), "flow mapping"),
        (SUITE.replace("id: beta", "id: gamma"), "no entry with id beta"),
        ("tenants: 3\n", "is not a list"),
    ],
)  # fmt: skip
def test_layouts_it_cannot_edit_cleanly_are_refused(text: str, message: str):
    with pytest.raises(LayoutRefused, match=message):
        suspend(text)
