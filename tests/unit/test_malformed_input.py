"""Hypothesis throws malformed documents at `souverain validate`: always exit 2, a message,
no traceback, and nothing written."""

from __future__ import annotations

import os
import re
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


# Bytes that are never text of a suite: NUL, other control characters, and bytes that are not
# UTF-8 (a lone continuation byte, a truncated sequence, an encoded surrogate, Latin-1 "é").
bad_bytes = st.sampled_from(
    [b"\x00", b"\x01", b"\x1b", b"\x7f", b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xe9"]
)
LOCATED = re.compile(r"suite\.yml:\d+:\d+")


def _check_refused_and_located(tmp: Path, capsys, raw: bytes) -> str:
    for entry in tmp.iterdir():
        if entry.is_file():
            entry.unlink()
    (tmp / "suite.yml").write_bytes(raw)
    before = sorted(os.listdir(tmp))
    code = run_cli(cli, ["-C", str(tmp), "validate"])
    captured = capsys.readouterr()
    assert code == 2
    assert sorted(os.listdir(tmp)) == before
    assert "Traceback" not in captured.err + captured.out
    assert LOCATED.search(captured.err), captured.err
    return captured.err


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), fragment=bad_bytes)
def test_bad_bytes_are_refused_with_their_line_and_column(
    tmp_path: Path, capsys, position, fragment
):
    raw = MINIMAL.encode("utf-8")
    index = position % (len(raw) + 1)
    err = _check_refused_and_located(tmp_path, capsys, raw[:index] + fragment + raw[index:])
    assert "position" not in err  # no "position 1038 in <unicode string>"
    line = raw[:index].count(b"\n") + 1
    assert f"suite.yml:{line}:" in err


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    digits=st.integers(min_value=9, max_value=6000),
    where=st.sampled_from(
        [
            ("domain: acme.example.org}", "domain: acme.example.org, quotas: {{drive_gb: {}}}}}"),
            ("[ntp.acme.example.org]", "[ntp.acme.example.org, {}]"),
            ("address: 192.0.2.10}", "address: 192.0.2.10, ssh_port: {}}}"),
            ("components:\n", "components:\n  backup: {{retention: {{daily: {}}}}}\n"),
        ]
    ),
)
def test_huge_integers_are_refused_where_they_stand(tmp_path: Path, capsys, digits, where):
    old, new = where
    text = MINIMAL.replace(old, new.format("9" * digits))
    err = _check_refused_and_located(tmp_path, capsys, text.encode("utf-8"))
    assert "set_int_max_str_digits" not in err


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
