"""The README's pictures: each image it shows is a file of this checkout, a PNG small enough
to keep in git; the portal and the webmail are shown where a newcomer starts (issue 23).

tests/e2e/test_browser.py takes them; SOUVERAIN_SCREENSHOTS_DIR=docs/screenshots refreshes them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
README = PROJECT / "README.md"
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")  # ![alt](path)
PNG = b"\x89PNG\r\n\x1a\n"
LARGEST = 150 * 1024  # bytes


def images(text: str) -> list[tuple[str, str]]:
    return IMAGE.findall(text)


def first_hour() -> str:
    return README.read_text().split("## Your first hour", 1)[1].split("\n## ", 1)[0]


def test_the_first_hour_shows_the_portal_and_the_webmail() -> None:
    shown = {path for _, path in images(first_hour())}
    assert {"docs/screenshots/portal.png", "docs/screenshots/webmail.png"} <= shown


@pytest.mark.parametrize(("alt", "path"), images(README.read_text()))
def test_each_image_is_a_small_png_of_the_checkout(alt: str, path: str) -> None:
    assert alt.strip(), f"{path}: say what the picture shows (alt text)"
    assert "://" not in path and not path.startswith("/"), f"{path}: a path in the checkout"
    file = PROJECT / path
    assert file.is_file(), f"{path}: no such file"
    data = file.read_bytes()
    assert data.startswith(PNG), f"{path}: not a PNG"
    assert len(data) < LARGEST, f"{path}: {len(data)} bytes, keep it under {LARGEST}"


def test_the_pictures_are_outside_the_block_lab_welcome_prints() -> None:
    blocks = re.findall(r"```text\n(.*?)```", first_hour(), re.DOTALL)
    assert blocks and not images(blocks[0])
