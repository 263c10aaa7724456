"""Hypothesis throws malformed documents at `souverain validate`: always exit 2, a message,
no traceback, and nothing written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from souverain.cli import cli
from souverain.cli.output import run_cli
from tests.unit.test_model import MINIMAL

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True),
    st.text(max_size=30),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)

noise = st.sampled_from(
    [
        ":",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "&a ",
        "*a",
        "!!",
        "\t",
        "\n",
        "---\n",
        "? ",
        "|",
        ">",
        "#",
        '"',
        "'",
        "%YAML 1.1\n",
        "<<: *a\n",
        "\x00",
        "\ufeff",
    ]
)


def _mutate(base: str, inserts: list[tuple[int, str]]) -> str:
    text = base
    for position, fragment in inserts:
        index = position % (len(text) + 1)
        text = text[:index] + fragment + text[index:]
    return text


def _check(tmp: Path, text: str) -> None:
    for entry in tmp.iterdir():
        if entry.is_file():
            entry.unlink()
    (tmp / "suite.yml").write_text(text, encoding="utf-8", errors="surrogatepass")
    before = sorted(os.listdir(tmp))
    code = run_cli(cli, ["-C", str(tmp), "validate"])
    assert code in (0, 2)
    assert sorted(os.listdir(tmp)) == before


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(inserts=st.lists(st.tuples(st.integers(min_value=0), noise), min_size=1, max_size=6))
def test_mutated_suites_never_crash(tmp_path: Path, capsys, inserts):
    text = _mutate(MINIMAL, inserts)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return
    _check(tmp_path, text)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=yaml_values)
def test_arbitrary_documents_are_refused_cleanly(tmp_path: Path, capsys, document):
    import json

    text = json.dumps(document, allow_nan=True)
    _check(tmp_path, text)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "error:" in captured.err  # none of these is a valid suite


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.sampled_from(["name", "hosting", "hosts", "tenants", "components"]), value=yaml_values
)
def test_wrong_values_at_known_keys(tmp_path: Path, capsys, key, value):
    import json

    lines = [line for line in MINIMAL.splitlines() if not line.startswith(f"{key}:")]
    text = "\n".join(lines) + f"\n{key}: {json.dumps(value, allow_nan=True)}\n"
    _check(tmp_path, text)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out


def _string_fields() -> list[Any]:
    from tests.unit.test_string_injection import string_fields

    return list(string_fields())


# Text that favours what a configuration file must never receive raw: line breaks, NUL and
# other control characters, invisible formatting, quotes and delimiters.
hostile_text = st.text(
    alphabet=st.one_of(
        st.characters(categories=["Cc", "Cf", "Zl", "Zp"]),
        st.sampled_from(list("'\"\\;{}#$%<>?[]:,= -")),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=40,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(_string_fields()), text=hostile_text, at_start=st.booleans())
def test_hostile_text_in_any_string_field(tmp_path: Path, capsys, field, text, at_start):
    from tests.unit.test_string_injection import ORDINARY, as_yaml, document_with

    ordinary = ORDINARY[field.key]
    value = text + ordinary if at_start else ordinary + text
    _check(tmp_path, as_yaml(document_with(field, value)))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
