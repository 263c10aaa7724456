"""Setting one string in a person's suite.yml: every other byte stays."""

from __future__ import annotations

import pytest

from souverain.model.yamledit import LayoutRefused, load_round_trip, plain
from souverain.model.yamlset import set_string

SUITE = """\
# our suite
components:
  chat:   # Matrix
    url_previews: false
    synapse_version: '1.163.2'  # pinned by hand
  mail:
    enabled: true
tenants:
  - id: mairie
"""


def test_an_existing_value_is_replaced_on_its_line_and_nothing_else_moves():
    text = set_string(SUITE, ("components", "chat", "synapse_version"), "1.160.0")
    assert text == SUITE.replace("'1.163.2'  # pinned", '"1.160.0"  # pinned')


def test_a_plain_value_keeps_its_comment():
    suite = SUITE.replace("'1.163.2'", "1.163.2")
    text = set_string(suite, ("components", "chat", "synapse_version"), "1.160.0")
    assert text == suite.replace("1.163.2  # pinned", '"1.160.0"  # pinned')


def test_a_missing_key_goes_first_under_its_mapping_at_its_indentation():
    suite = SUITE.replace("    synapse_version: '1.163.2'  # pinned by hand\n", "")
    text = set_string(suite, ("components", "chat", "synapse_version"), "1.160.0")
    assert text == suite.replace(
        "  chat:   # Matrix\n", '  chat:   # Matrix\n    synapse_version: "1.160.0"\n'
    )


def test_missing_mappings_are_added_with_the_files_step():
    suite = "components:\n    mail:\n        enabled: true\n"
    text = set_string(suite, ("components", "chat", "synapse_version"), "1.160.0")
    assert text == (
        'components:\n    chat:\n        synapse_version: "1.160.0"\n'
        "    mail:\n        enabled: true\n"
    )
    at_top = set_string("hosts: []\n", ("components", "chat", "synapse_version"), "1")
    assert plain(load_round_trip(at_top)) == {
        "hosts": [],
        "components": {"chat": {"synapse_version": "1"}},
    }


def test_windows_line_endings_are_kept():
    suite = SUITE.replace("\n", "\r\n").replace(
        "    synapse_version: '1.163.2'  # pinned by hand\r\n", ""
    )
    text = set_string(suite, ("components", "chat", "synapse_version"), "1.160.0")
    assert "\n" not in text.replace("\r\n", "")
    assert '    synapse_version: "1.160.0"\r\n' in text


@pytest.mark.parametrize(
    ("suite", "words"),
    [
        ("components: {chat: {url_previews: false}}\n", "flow mapping"),
        ("components:\n  chat:\n    synapse_version:\n      a: 1\n", "mapping or a list"),
    ],
)
def test_what_cannot_be_set_cleanly_is_refused(suite, words):
    with pytest.raises(LayoutRefused, match=words):
        set_string(suite, ("components", "chat", "synapse_version"), "1.160.0")
