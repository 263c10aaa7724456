"""The base image: one debootstrap root per release and package list, built once and cached.

A build goes into a temporary directory next to the cache entry and is renamed into place only
when it is complete, so an interrupted build is never mistaken for a good image.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from souverain.errors import LabError, LabRefused
from souverain.lab.commands import run

IMAGE_CACHE = Path("/var/cache/souverain/images")
IMAGE_CACHE_ENV = "SOUVERAIN_LAB_IMAGE_CACHE"  # another cache directory (CI caches, benchmarks)
RELEASES = ("trixie", "bookworm")
# What every lab host needs: systemd as PID 1, SSH, and what Ansible's modules use
# (python3, python3-apt for the apt module), plus ip and ping for diagnosis and tests.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-apt",
    "ca-certificates",
    "iproute2",
    "iputils-ping",
)
MIRROR_ENV = "SOUVERAIN_LAB_MIRROR"  # a Debian mirror URL; debootstrap's default when unset
IMAGE_FORMAT = 2  # bump when the preparation below changes, so old images are rebuilt
MARKER = ".souverain-image.json"
BUILD_TIMEOUT = 1800


@dataclass(frozen=True)
class ImageSpec:
    release: str
    packages: tuple[str, ...] = PACKAGES
    mirror: str | None = None

    @property
    def key(self) -> str:
        """Names the cache entry: release plus a digest of everything that shapes the image."""
        recipe = json.dumps(
            {
                "release": self.release,
                "packages": sorted(self.packages),
                "mirror": self.mirror,
                "format": IMAGE_FORMAT,
            },
            sort_keys=True,
        )
        return f"{self.release}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"

    def debootstrap_argv(self, target: Path) -> list[str]:
        argv = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(self.packages)}",
            self.release,
            str(target),
        ]
        if self.mirror:
            argv.append(self.mirror)
        return argv


def spec_for(release: str) -> ImageSpec:
    if release not in RELEASES:
        raise LabRefused(
            f"unknown release {release!r}", hint=f"choose one of {', '.join(RELEASES)}"
        )
    return ImageSpec(release=release, mirror=os.environ.get(MIRROR_ENV) or None)


def cache_dir() -> Path:
    return Path(os.environ.get(IMAGE_CACHE_ENV) or IMAGE_CACHE)


def image_path(spec: ImageSpec, cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / spec.key


def is_cached(spec: ImageSpec, cache: Path | None = None) -> bool:
    return (image_path(spec, cache) / MARKER).is_file()


def ensure_image(
    spec: ImageSpec,
    *,
    cache: Path | None = None,
    log: Callable[[str], None] = lambda _line: None,
) -> Path:
    """Return the cached image for ``spec``, building it first if needed."""
    cache = cache or cache_dir()
    final = image_path(spec, cache)
    if (final / MARKER).is_file():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another `lab up` may be building the same image
        if (final / MARKER).is_file():
            return final
        _remove_stale_builds(cache, spec.key)
        building = cache / f".{spec.key}.building-{os.getpid()}"
        log(f"building the {spec.release} base image (about a minute, once)")
        started = time.monotonic()
        try:
            result = run(spec.debootstrap_argv(building), check=False, timeout=BUILD_TIMEOUT)
            if result.returncode != 0:
                tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
                raise LabError(
                    f"debootstrap of {spec.release} failed (exit {result.returncode}):\n{tail}",
                    hint=f"see {building}/debootstrap/debootstrap.log if it exists",
                )
            _prepare(building)
            marker = {
                "key": spec.key,
                "release": spec.release,
                "packages": list(spec.packages),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build_seconds": round(time.monotonic() - started, 1),
            }
            (building / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
            if final.exists():  # a leftover without marker: never a good image
                shutil.rmtree(final)
            building.rename(final)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return final


def _remove_stale_builds(cache: Path, key: str) -> None:
    for leftover in cache.glob(f".{key}.building-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _prepare(root: Path) -> None:
    """Make the root a template: no identity of its own, no package downloads kept."""
    for host_key in (root / "etc/ssh").glob("ssh_host_*"):
        host_key.unlink()
    (root / "etc/machine-id").write_text("")
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    # Root's user manager is started once and kept (logind stops it 10 s after root's last
    # session by default). In these containers that stop can hang until its 90 s timeout,
    # and the next SSH login waits behind it: a deploy or a test then stalls for minutes.
    logind = root / "etc/systemd/logind.conf.d"
    logind.mkdir(parents=True, exist_ok=True)
    (logind / "50-souverain-lab.conf").write_text(
        "# souverain lab: keep user managers (a stop can hang in a container)\n"
        "[Login]\nUserStopDelaySec=infinity\n"
    )
