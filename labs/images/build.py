"""Builds the lab images with no registry and no network inside builds.

1. Base: ``debootstrap --variant=minbase`` of Debian bookworm into a folder on the host, with the
   union of the Debian packages every image lists in its ``debian-packages.txt``, then
   ``docker import``. Images cannot install packages later: builds run with no network.
2. Wheelhouse: the pinned ``requirements.txt`` of each image is downloaded on the host with pip
   (wheels only, for Debian bookworm's CPython 3.11) and installed in the build with --no-index.
3. Each folder here with a Dockerfile is built ``FROM`` the base.

Everything is cached by content hash (recipe files, base hash, wheel names): an image whose
hash tag exists is not built again. Images are tagged ``academy/<name>:<hash>`` and ``:latest``
and carry the hash in the ``academy.image-hash`` label.

Building from a pulled ``debian:bookworm-slim`` would still need the packages installed over the
network inside a build; bootstrapping is one path that works with or without a registry.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from labs.runtime.images import image_build, image_get, image_import, image_list, image_remove
from labs.runtime.images import image_tag as _image_tag

IMAGES_DIR = Path(__file__).resolve().parent
REPO_DIR = IMAGES_DIR.parent.parent
SUITE = "bookworm"
PYTHON_VERSION = "3.11"  # python3 of Debian bookworm: the wheels must match it
DEFAULT_MIRROR = "http://deb.debian.org/debian"
REPOSITORY = "academy"
HASH_LABEL = "academy.image-hash"
# Bump when the bootstrap recipe below changes in a way the package list does not show.
BASE_RECIPE_VERSION = "1"

Progress = Callable[[str], None]


class ImageBuildError(Exception):
    pass


@dataclass(frozen=True)
class ImageBuildResult:
    name: str
    reference: str
    image_id: str
    content_hash: str
    built: bool
    seconds: float


@dataclass(frozen=True)
class Recipe:
    name: str
    folder: Path
    packages: tuple[str, ...]
    requirements: tuple[str, ...]


def build_lab_images(
    *, force: bool = False, progress: Progress | None = None, var_dir: Path | None = None
) -> list[ImageBuildResult]:
    """Build whatever is missing or out of date; returns one result per image, base first."""
    say = progress or (lambda _message: None)
    var_dir = var_dir or Path(os.environ.get("ACADEMY_VAR_DIR", REPO_DIR / "var"))
    work_dir = var_dir / "build"
    work_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(work_dir / "images.lock"):
        recipes = _recipes()
        packages = sorted({package for recipe in recipes for package in recipe.packages})
        results = [_ensure_base(packages=packages, force=force, say=say, work_dir=work_dir)]
        wheels = _ensure_wheelhouse(recipes=recipes, wheelhouse=var_dir / "wheelhouse", say=say)
        for recipe in recipes:
            results.append(
                _ensure_image(recipe=recipe, base=results[0], wheels=wheels, force=force, say=say)
            )
    if not any(result.built for result in results):
        say(f"Nothing to build: all {len(results)} images are up to date.")
    return results


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lines(path: Path) -> tuple[str, ...]:
    if not path.exists():
        return ()
    stripped = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return tuple(line for line in stripped if line)


def _recipes() -> list[Recipe]:
    return [
        Recipe(
            name=folder.name,
            folder=folder,
            packages=_lines(folder / "debian-packages.txt"),
            requirements=_lines(folder / "requirements.txt"),
        )
        for folder in sorted(IMAGES_DIR.iterdir())
        if (folder / "Dockerfile").is_file()
    ]


def _digest(*parts: bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(len(part).to_bytes(8, "big"))
        sha.update(part)
    return sha.hexdigest()


def _debian_arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)


def _cached(*, reference: str, content_hash: str, force: bool) -> str | None:
    if force:
        return None
    info = image_get(reference=reference)
    if info and info.labels.get(HASH_LABEL) == content_hash:
        return info.id
    return None


def _publish(*, name: str, reference: str, content_hash: str, say: Progress) -> None:
    """Point :latest at this build and drop the tags of superseded builds (kept if in use)."""
    repository = f"{REPOSITORY}/{name}"
    _image_tag(image=reference, repository=repository, tag="latest")
    for info in image_list(repository=repository):
        if info.labels.get(HASH_LABEL) == content_hash:
            continue
        for tag in info.tags:
            if tag.startswith(f"{repository}:") and image_remove(reference=tag):
                say(f"{name}: removed superseded {tag}")


# --- Base image ---------------------------------------------------------------------------------


def _host_mirror() -> str:
    """The Debian mirror the host's apt uses, when the host is Debian; else deb.debian.org."""
    if override := os.environ.get("ACADEMY_DEBIAN_MIRROR"):
        return override
    sources = Path("/etc/apt/sources.list.d")
    texts = [path.read_text() for path in sorted(sources.glob("*.sources"))]
    texts += [path.read_text() for path in sorted(sources.glob("*.list"))]
    if Path("/etc/apt/sources.list").exists():
        texts.append(Path("/etc/apt/sources.list").read_text())
    for text in texts:
        for match in re.finditer(r"(?:URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            uri = match.group(1).rstrip("/")
            if uri.startswith(("http://", "https://")) and uri.endswith("/debian"):
                return uri
    return DEFAULT_MIRROR


def _ensure_base(
    *, packages: list[str], force: bool, say: Progress, work_dir: Path
) -> ImageBuildResult:
    arch = _debian_arch()
    recipe = {
        "recipe": BASE_RECIPE_VERSION,
        "suite": SUITE,
        "arch": arch,
        "variant": "minbase",
        "packages": packages,
    }
    content_hash = _digest(json.dumps(recipe, sort_keys=True).encode())
    reference = f"{REPOSITORY}/base:{content_hash[:12]}"
    started = time.monotonic()
    image_id = _cached(reference=reference, content_hash=content_hash, force=force)
    built = image_id is None
    if image_id is None:
        say(f"base: bootstrapping Debian {SUITE} ({len(packages)} packages) for {reference}")
        image_id = _bootstrap_base(
            packages=packages,
            arch=arch,
            reference=reference,
            content_hash=content_hash,
            say=say,
            work_dir=work_dir,
        )
        say(f"base: imported {reference} in {time.monotonic() - started:.0f} s")
    else:
        say(f"base: {reference} is up to date")
    _publish(name="base", reference=reference, content_hash=content_hash, say=say)
    return ImageBuildResult(
        name="base",
        reference=reference,
        image_id=image_id,
        content_hash=content_hash,
        built=built,
        seconds=time.monotonic() - started,
    )


# One line per package ("I: Retrieving bash 5.2.15-2", "I: Extracting bash..."): kept in the log.
_NOISY = re.compile(
    r"^I: (Retrieving|Validating|Extracting|Unpacking|Configuring)"
    r" [a-z0-9][a-z0-9+.-]*( \S+|\.\.\.)$"
)


def _bootstrap_base(
    *,
    packages: list[str],
    arch: str,
    reference: str,
    content_hash: str,
    say: Progress,
    work_dir: Path,
) -> str:
    if os.geteuid() != 0:
        raise ImageBuildError("Bootstrapping the base image runs debootstrap, which needs root.")
    if not shutil.which("debootstrap"):
        raise ImageBuildError(
            "debootstrap is not installed: run scripts/ensure-docker.sh as root, "
            "or apt-get install debootstrap."
        )
    rootfs = work_dir / f"rootfs-{content_hash[:12]}"
    tarball = work_dir / f"base-{content_hash[:12]}.tar"
    shutil.rmtree(rootfs, ignore_errors=True)
    mirror = _host_mirror()
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--arch={arch}",
        f"--include={','.join(packages)}",
        SUITE,
        str(rootfs),
        mirror,
    ]
    say(f"base: {' '.join(command)}")
    log_path = work_dir / "debootstrap.log"
    try:
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            assert process.stdout is not None
            for line in process.stdout:
                log.write(line)
                if not _NOISY.match(line.strip()):
                    say(f"base: {line.rstrip()}")
            if process.wait() != 0:
                raise ImageBuildError(f"debootstrap failed; its log is {log_path}")
        _trim_rootfs(rootfs)
        say("base: packing the root filesystem")
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tarball), "."], check=True
        )
        say(f"base: importing {reference}")
        return image_import(
            tarball=tarball,
            repository=f"{REPOSITORY}/base",
            tag=content_hash[:12],
            changes=[
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV LANG=C.UTF-8",
                'CMD ["bash"]',
                f"LABEL {HASH_LABEL}={content_hash}",
            ],
        )
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
        tarball.unlink(missing_ok=True)


def _trim_rootfs(rootfs: Path) -> None:
    """Drop caches and docs, and what debootstrap copied from the host (resolv.conf, hostname)."""
    for relative in (
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/man",
        "usr/share/info",
        "var/log",
    ):
        folder = rootfs / relative
        if folder.is_dir():
            for child in folder.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                elif child.name != "lock":
                    child.unlink()
    for doc in (rootfs / "usr/share/doc").glob("*/*"):
        if doc.name != "copyright" and not doc.is_dir():
            doc.unlink()
    (rootfs / "etc/resolv.conf").write_text("")
    (rootfs / "etc/hostname").write_text("lab\n")


# --- Wheelhouse ---------------------------------------------------------------------------------


def _wheel_prefix(pin: str) -> str:
    name, _, version = pin.partition("==")
    if not version:
        raise ImageBuildError(f"Requirement {pin!r} must be pinned with ==.")
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}-"


def _find_wheel(wheelhouse: Path, pin: str) -> Path | None:
    prefix = _wheel_prefix(pin)
    for path in sorted(wheelhouse.glob("*.whl")):
        if path.name.lower().startswith(prefix):
            return path
    return None


def _ensure_wheelhouse(
    *, recipes: list[Recipe], wheelhouse: Path, say: Progress
) -> dict[str, Path]:
    """Map each pin to its wheel, downloading the missing ones with pip (wheels only)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    pins = sorted({pin for recipe in recipes for pin in recipe.requirements})
    missing = [pin for pin in pins if _find_wheel(wheelhouse, pin) is None]
    if missing:
        say(f"wheelhouse: downloading {len(missing)} wheels into {wheelhouse}")
        machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(_debian_arch(), platform.machine())
        platforms = [f"manylinux_2_{minor}_{machine}" for minor in (36, 28, 17)]
        platforms += [f"manylinux2014_{machine}", f"linux_{machine}", "any"]
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
            requirements.write("\n".join(missing) + "\n")
            requirements.flush()
            command = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                PYTHON_VERSION,
                "--implementation",
                "cp",
                "--abi",
                f"cp{PYTHON_VERSION.replace('.', '')}",
                "--abi",
                "abi3",
                "--abi",
                "none",
                *[argument for name in platforms for argument in ("--platform", name)],
                "--dest",
                str(wheelhouse),
                "--requirement",
                requirements.name,
            ]
            completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0:
            raise ImageBuildError(f"pip download failed:\n{completed.stderr[-2000:]}")
    wheels = {}
    for pin in pins:
        wheel = _find_wheel(wheelhouse, pin)
        if wheel is None:
            raise ImageBuildError(f"No wheel for {pin} in {wheelhouse} after downloading.")
        wheels[pin] = wheel
    return wheels


# --- Lab images ---------------------------------------------------------------------------------


def _recipe_files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )


def _ensure_image(
    *,
    recipe: Recipe,
    base: ImageBuildResult,
    wheels: dict[str, Path],
    force: bool,
    say: Progress,
) -> ImageBuildResult:
    files = _recipe_files(recipe.folder)
    my_wheels = sorted((wheels[pin] for pin in recipe.requirements), key=lambda path: path.name)
    parts = [base.content_hash.encode()]
    for path in files:
        parts += [str(path.relative_to(recipe.folder)).encode(), path.read_bytes()]
    parts += [wheel.name.encode() for wheel in my_wheels]
    content_hash = _digest(*parts)
    reference = f"{REPOSITORY}/{recipe.name}:{content_hash[:12]}"
    started = time.monotonic()
    image_id = _cached(reference=reference, content_hash=content_hash, force=force)
    built = image_id is None
    if image_id is None:
        say(f"{recipe.name}: building {reference}")
        image_id = image_build(
            context=_context(folder=recipe.folder, files=files, wheels=my_wheels),
            tag=reference,
            labels={HASH_LABEL: content_hash},
            buildargs={"BASE_IMAGE": base.reference},
            progress=lambda line: say(f"{recipe.name}: {line}"),
        )
        say(f"{recipe.name}: built {reference} in {time.monotonic() - started:.0f} s")
    else:
        say(f"{recipe.name}: {reference} is up to date")
    _publish(name=recipe.name, reference=reference, content_hash=content_hash, say=say)
    return ImageBuildResult(
        name=recipe.name,
        reference=reference,
        image_id=image_id,
        content_hash=content_hash,
        built=built,
        seconds=time.monotonic() - started,
    )


def _context(*, folder: Path, files: list[Path], wheels: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
        if wheels:
            directory = tarfile.TarInfo("wheels")
            directory.type, directory.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(directory)
            for wheel in wheels:
                tar.add(wheel, arcname=f"wheels/{wheel.name}", recursive=False)
    return buffer.getvalue()
