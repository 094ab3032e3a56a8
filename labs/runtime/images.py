"""Image operations for labs/images/build.py, which owns the recipes but not the engine."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors

from labs.runtime.engine import RuntimeFailure, client, engine_errors


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    labels: dict[str, str]


def _info(attrs: dict[str, Any]) -> ImageInfo:
    return ImageInfo(
        id=attrs["Id"],
        tags=tuple(attrs.get("RepoTags") or ()),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
    )


def image_get(*, reference: str) -> ImageInfo | None:
    with engine_errors():
        try:
            return _info(client().api.inspect_image(reference))
        except docker.errors.ImageNotFound:
            return None


def image_list(*, repository: str) -> list[ImageInfo]:
    with engine_errors():
        return [
            _info(client().api.inspect_image(row["Id"]))
            for row in client().api.images(name=repository)
        ]


def image_tag(*, image: str, repository: str, tag: str) -> None:
    with engine_errors():
        client().api.tag(image, repository, tag, force=True)


def image_remove(*, reference: str) -> bool:
    """Remove a tag or image; False when it is still in use or already gone."""
    try:
        with engine_errors():
            client().api.remove_image(reference)
        return True
    except RuntimeFailure:
        return False


def image_import(*, tarball: Path, repository: str, tag: str, changes: Sequence[str] = ()) -> str:
    """`docker import` of a root filesystem tarball; returns the image id."""
    with engine_errors():
        client().api.import_image(
            src=str(tarball), repository=repository, tag=tag, changes=list(changes)
        )
        return str(client().api.inspect_image(f"{repository}:{tag}")["Id"])


def image_build(
    *,
    context: bytes,
    tag: str,
    labels: Mapping[str, str],
    buildargs: Mapping[str, str],
    progress: Callable[[str], None] | None = None,
) -> str:
    """Build from an in-memory tar context with no network at all; returns the image id."""
    image_id: str | None = None
    with engine_errors():
        stream = client().api.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            tag=tag,
            labels=dict(labels),
            buildargs=dict(buildargs),
            network_mode="none",
            pull=False,
            rm=True,
            forcerm=True,
            decode=True,
        )
        tail: list[str] = []
        for chunk in stream:
            if "error" in chunk:
                detail = "".join(tail[-20:])
                raise RuntimeFailure(f"Building {tag} failed: {chunk['error']}\n{detail}")
            line = chunk.get("stream", "")
            if line:
                tail.append(line)
                if progress and line.startswith("Step "):
                    progress(line.rstrip())
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
        if image_id is None:
            image_id = str(client().api.inspect_image(tag)["Id"])
    return image_id
