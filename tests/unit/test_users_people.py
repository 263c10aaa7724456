"""What `souverain user` accepts before it touches the directory: fields, CSV lines, passwords."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from souverain.errors import UsageError
from souverain.users import passwords
from souverain.users.people import check_person, read_csv, split_groups


def test_a_valid_person_is_normalised():
    person, problems = check_person(
        " alice ", "Alice", " Martin ", "Alice@Example.ORG", ["staff", "admins", "staff", ""]
    )
    assert problems == []
    assert person is not None
    assert (person.uid, person.surname, person.email) == ("alice", "Martin", "alice@example.org")
    assert person.groups == ("admins", "staff")
    assert person.display_name == "Alice Martin"


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("uid", {"uid": "Alice"}),
        ("uid", {"uid": "9lives"}),
        ("uid", {"uid": "a" * 65}),
        ("uid", {"uid": "al ice"}),
        ("email", {"email": "alice"}),
        ("email", {"email": "alice@localhost"}),
        ("email", {"email": "alice@@example.org"}),
        ("email", {"email": "alice@exa mple.org"}),
        ("given_name", {"given_name": "  "}),
        ("surname", {"surname": "x" * 129}),
        ("surname", {"surname": "Mar\ntin"}),
        ("groups", {"groups": ["Admins!"]}),
    ],
)
def test_each_bad_field_is_named(field, kwargs):
    values = {
        "uid": "alice",
        "given_name": "Alice",
        "surname": "Martin",
        "email": "alice@example.org",
        "groups": [],
    }
    values.update(kwargs)
    person, problems = check_person(**values)
    assert person is None
    assert [problem.field for problem in problems] == [field]


def test_every_problem_is_reported_at_once():
    _, problems = check_person("Bad", "", "Martin", "nope", line=7)
    assert [p.field for p in problems] == ["uid", "given_name", "email"]
    assert all(str(p).startswith("line 7: ") for p in problems)


def test_groups_split_on_common_separators():
    assert split_groups("admins; staff,drive  chat") == ["admins", "staff", "drive", "chat"]


GOOD = (
    "uid,given_name,surname,email,groups,password\n"
    "alice,Alice,Martin,alice@example.org,admins;staff,Correct-horse-42\n"
    "bob,Bob,Durand,bob@example.org,,\n"
)


def test_a_good_csv_gives_one_row_per_person():
    result = read_csv(GOOD)
    assert result.problems == []
    assert [(row.line, row.person.uid) for row in result.rows] == [(2, "alice"), (3, "bob")]
    assert result.rows[0].person.groups == ("admins", "staff")
    assert result.rows[0].password == "Correct-horse-42"
    assert result.rows[1].password is None


def test_semicolons_a_bom_and_any_column_order_are_accepted():
    text = "\ufeffemail;uid;surname;given_name\nalice@example.org;alice;Martin;Alice\n"
    result = read_csv(text)
    assert result.problems == []
    assert result.rows[0].person.email == "alice@example.org"


def test_broken_lines_are_all_reported_with_line_and_field():
    text = (
        "uid,given_name,surname,email,groups\n"
        "alice,Alice,Martin,alice@example.org,admins\n"
        "bob,Bob\n"
        "\n"
        "carol,Carol,Petit,not-an-email,\n"
        "alice,Alicia,Martin,alicia@example.org,\n"
        "dave,Dave,Roux,ALICE@example.org,\n"
        'erin,"Erin,Roux,erin@example.org,\n'
    )
    result = read_csv(text)
    found = [(p.line, p.field) for p in result.problems]
    assert (3, "line") in found
    assert (5, "email") in found
    assert (6, "uid") in found
    assert (7, "email") in found
    assert any(line == 8 for line, _ in found)
    assert [row.person.uid for row in result.rows] == ["alice"]
    messages = " ".join(str(p) for p in result.problems)
    assert "expected 5 fields, found 2" in messages
    assert "already on line 2" in messages


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ("uid,given_name,email\n", "missing column(s) surname"),
        ("uid,given_name,surname,email,phone\n", "unknown column(s) phone"),
        ("uid,uid,given_name,surname,email\n", "named twice"),
    ],
)
def test_bad_headers_are_explained(text, expected):
    result = read_csv(text)
    assert result.rows == []
    assert len(result.problems) == 1
    assert expected in result.problems[0].message
    assert result.problems[0].line == 1


def test_generated_passwords_are_long_and_mixed():
    values = {passwords.generate() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert len(value) == passwords.GENERATED_LENGTH
        assert any(c.isdigit() for c in value) and any(c.isupper() for c in value)


def test_short_passwords_are_refused_with_the_policy_named():
    with pytest.raises(UsageError, match="password_min_length"):
        passwords.check("short", 12)


def test_password_from_file_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    secret = tmp_path / "pw"
    secret.write_text("Correct-horse-battery\nignored\n")
    value, generated = passwords.obtain(
        password_file=secret, use_stdin=False, generate_one=False, min_length=12, prompt_for="x"
    )
    assert (value, generated) == ("Correct-horse-battery", False)
    monkeypatch.setattr("sys.stdin", io.StringIO("Another-long-one-9\n"))
    value, _ = passwords.obtain(
        password_file=None, use_stdin=True, generate_one=False, min_length=12, prompt_for="x"
    )
    assert value == "Another-long-one-9"


def test_password_sources_are_exclusive_and_a_terminal_is_needed_to_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    with pytest.raises(UsageError, match="choose one"):
        passwords.obtain(
            password_file=tmp_path / "pw",
            use_stdin=False,
            generate_one=True,
            min_length=12,
            prompt_for="x",
        )
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(UsageError, match="no terminal"):
        passwords.obtain(
            password_file=None, use_stdin=False, generate_one=False, min_length=12, prompt_for="x"
        )
