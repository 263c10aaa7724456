"""`souverain init --layout single|split`: each layout writes a suite.yml that validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from souverain.model.loader import load_suite


def test_init_help_shows_the_layouts(souverain):
    result = souverain("init", "--help")
    assert result.code == 0
    assert "--layout [single|split]" in result.out


@pytest.mark.parametrize("layout", ["single", "split"])
def test_each_layout_validates(souverain, tmp_path: Path, layout):
    target = tmp_path / layout
    result = souverain("init", str(target), "--domain", "mairie-exemple.fr", "--layout", layout)
    assert result.code == 0, result.err
    checked = souverain("-C", str(target), "validate")
    assert checked.code == 0, checked.err
    assert "valid" in checked.out


def test_single_is_the_default(souverain, tmp_path: Path):
    assert souverain("init", str(tmp_path / "d")).code == 0
    suite = load_suite(tmp_path / "d" / "suite.yml")
    [host] = suite.hosts
    assert (host.name, host.address, host.components) == ("srv1", "192.0.2.10", None)


def test_split_writes_the_four_host_layout(souverain, tmp_path: Path):
    assert souverain("init", str(tmp_path / "d"), "--layout", "split").code == 0
    text = (tmp_path / "d" / "suite.yml").read_text()
    suite = load_suite(tmp_path / "d" / "suite.yml")
    assert [(h.name, h.address, h.components) for h in suite.hosts] == [
        ("front", "192.0.2.10", ["proxy", "directory", "sso"]),
        ("mail", "192.0.2.11", ["mail"]),
        ("data", "192.0.2.12", ["postgresql"]),
        ("apps", "192.0.2.13", ["redis", "chat", "visio", "drive"]),
    ]
    # each host says what it is for, as the rest of the file does
    assert "  # Synapse, Jitsi and Nextcloud, with Redis beside Nextcloud" in text


def test_an_unknown_layout_is_a_usage_error(souverain, tmp_path: Path):
    result = souverain("init", str(tmp_path / "d"), "--layout", "triple")
    assert result.code == 2
    assert "'triple' is not one of 'single', 'split'" in result.err
    assert not (tmp_path / "d").exists()


def test_init_deployment_refuses_an_unknown_layout(tmp_path: Path):
    from souverain.errors import UsageError
    from souverain.scaffold import init_deployment

    with pytest.raises(UsageError, match="unknown layout 'triple'"):
        init_deployment(tmp_path / "d", domain="example.org", name="ex", layout="triple")
    assert not (tmp_path / "d").exists()
