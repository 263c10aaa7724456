"""What a person is, checked before anything is written, and CSV imports read line by line."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

UID = re.compile(r"[a-z][a-z0-9._-]{0,63}")
GROUP = re.compile(r"[a-z0-9_-]{1,64}")
# A mailbox as people type it: local part of common characters, a domain of DNS labels.
EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
NAME_MAX = 128
CSV_COLUMNS = ("uid", "given_name", "surname", "email", "groups", "password")
CSV_REQUIRED = ("uid", "given_name", "surname", "email")


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of one person (line is the CSV line, when there is one)."""

    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"


@dataclass(frozen=True)
class Person:
    uid: str
    given_name: str
    surname: str
    email: str
    groups: tuple[str, ...] = ()
    locked: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.surname}"

    def as_dict(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "given_name": self.given_name,
            "surname": self.surname,
            "email": self.email,
            "groups": list(self.groups),
            "locked": self.locked,
        }


def _name_problem(value: str, label: str) -> str | None:
    if not value.strip():
        return f"{label} is empty"
    if len(value) > NAME_MAX:
        return f"{label} is longer than {NAME_MAX} characters"
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return f"{label} contains control characters"
    return None


def check_person(
    uid: str,
    given_name: str,
    surname: str,
    email: str,
    groups: list[str] | tuple[str, ...] = (),
    *,
    line: int | None = None,
) -> tuple[Person | None, list[FieldProblem]]:
    """A Person when every field is valid, else the problems, one per field."""
    problems: list[FieldProblem] = []
    uid = uid.strip()
    if not UID.fullmatch(uid):
        problems.append(
            FieldProblem(
                "uid",
                f"{uid!r} is not a valid login: start with a-z, then up to 63 of a-z 0-9 . _ -",
                line,
            )
        )
    for label, value in (("given_name", given_name), ("surname", surname)):
        message = _name_problem(value, label)
        if message:
            problems.append(FieldProblem(label, message, line))
    email = email.strip()
    if not EMAIL.fullmatch(email):
        problems.append(FieldProblem("email", f"{email!r} is not a valid email address", line))
    clean_groups: list[str] = []
    for group in groups:
        group = group.strip()
        if not group:
            continue
        if not GROUP.fullmatch(group):
            problems.append(
                FieldProblem("groups", f"{group!r} is not a valid group name (a-z 0-9 _ -)", line)
            )
        elif group not in clean_groups:
            clean_groups.append(group)
    if problems:
        return None, problems
    person = Person(
        uid=uid,
        given_name=given_name.strip(),
        surname=surname.strip(),
        email=email.lower(),
        groups=tuple(sorted(clean_groups)),
    )
    return person, []


def split_groups(text: str) -> list[str]:
    """Groups in one CSV cell or option: separated by ';', ',' or spaces."""
    return [part for part in re.split(r"[;,\s]+", text) if part]


@dataclass
class CsvRow:
    line: int
    person: Person
    password: str | None = field(default=None, repr=False)


@dataclass
class CsvImport:
    rows: list[CsvRow]
    problems: list[FieldProblem]


def read_csv(text: str) -> CsvImport:
    """Read every line of a CSV of people and report all problems, not only the first.

    The first line names the columns (uid, given_name, surname, email, and optionally groups
    and password; any order). Fields may be separated by ',' or ';'. Duplicate uids or emails
    inside the file are problems of the later line.
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        return CsvImport([], [FieldProblem("file", "the file is empty", 1)])
    first_line = text.splitlines()[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[CsvRow] = []
    problems: list[FieldProblem] = []
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except csv.Error as error:
        return CsvImport([], [FieldProblem("header", f"unreadable: {error}", 1)])
    unknown = [name for name in header if name not in CSV_COLUMNS]
    missing = [name for name in CSV_REQUIRED if name not in header]
    if unknown or missing or len(set(header)) != len(header):
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        if len(set(header)) != len(header):
            parts.append("a column is named twice")
        expected = ", ".join(CSV_COLUMNS)
        message = f"{'; '.join(parts)} (expected: {expected}; groups and password optional)"
        return CsvImport([], [FieldProblem("header", message, 1)])
    seen_uids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            problems.append(FieldProblem("line", f"unreadable: {error}", reader.line_num))
            continue
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                FieldProblem("line", f"expected {len(header)} fields, found {len(cells)}", line)
            )
            continue
        values = dict(zip(header, cells, strict=True))
        person, found = check_person(
            values["uid"],
            values["given_name"],
            values["surname"],
            values["email"],
            split_groups(values.get("groups", "")),
            line=line,
        )
        problems += found
        if person is None:
            continue
        if person.uid in seen_uids:
            problems.append(
                FieldProblem(
                    "uid", f"{person.uid!r} is already on line {seen_uids[person.uid]}", line
                )
            )
            continue
        if person.email in seen_emails:
            problems.append(
                FieldProblem(
                    "email",
                    f"{person.email!r} is already on line {seen_emails[person.email]}",
                    line,
                )
            )
            continue
        seen_uids[person.uid] = line
        seen_emails[person.email] = line
        password = values.get("password") or None
        rows.append(CsvRow(line, person, password))
    return CsvImport(rows, problems)
