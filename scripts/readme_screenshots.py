"""Refreshes the README's screenshots (docs/screenshots/*.png) from the browser test's.

tests/browser/test_screenshots.py saves every page type, in both languages, at desktop and
phone widths, into var/screenshots/ (ACADEMY_SCREENSHOTS moves it). This script picks a few,
crops them to what a visitor sees first, and writes them as small palette PNGs (each must stay
under 250 KB):

    .venv/bin/pytest tests/browser/test_screenshots.py
    .venv/bin/python scripts/readme_screenshots.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(os.environ.get("ACADEMY_SCREENSHOTS", ROOT / "var" / "screenshots"))
TARGET = ROOT / "docs" / "screenshots"
LIMIT = 250 * 1024

# Output name -> (the test's page shots, height to keep of each, width of the result).
SHOTS: dict[str, tuple[list[str], int, int]] = {
    "home-en.png": (["page-home-en-desktop"], 1000, 1100),
    "lab-workspace-es.png": (["page-lab-session-es-desktop"], 900, 1100),
    "lesson-es.png": (["page-lesson-es-desktop"], 900, 1100),
    "course-progress-en.png": (["page-course-catalogue-en-desktop"], 680, 1100),
    "phone-es.png": (
        ["page-home-es-phone", "page-lab-catalogue-es-phone", "page-dashboard-es-phone"],
        740,
        1000,
    ),
}
GAP = 24


def _compose(names: list[str], height: int) -> Image.Image:
    """The top ``height`` pixels of each shot, side by side on a plain background."""
    parts = []
    for name in names:
        with Image.open(SOURCE / f"{name}.png") as image:
            parts.append(image.convert("RGB").crop((0, 0, image.width, min(height, image.height))))
    if len(parts) == 1:
        return parts[0]
    width = sum(part.width for part in parts) + GAP * (len(parts) + 1)
    tallest = max(part.height for part in parts)
    sheet = Image.new("RGB", (width, tallest + 2 * GAP), (226, 223, 215))
    x = GAP
    for part in parts:
        sheet.paste(part, (x, GAP))
        x += part.width + GAP
    return sheet


def _save(image: Image.Image, width: int, path: Path) -> int:
    """Scales to ``width``, reduces to a 256-colour palette (octree keeps the small accents
    that median cut loses) and saves, smaller until it fits."""
    while True:
        scaled = image
        if image.width > width:
            scaled = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
        palette = scaled.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.NONE)
        palette.save(path, optimize=True)
        size = path.stat().st_size
        if size <= LIMIT:
            return size
        width = int(width * 0.9)


def main() -> int:
    missing = [
        f"{name}.png"
        for names, _, _ in SHOTS.values()
        for name in names
        if not (SOURCE / f"{name}.png").exists()
    ]
    if missing:
        print(f"Missing in {SOURCE}: {', '.join(missing)}", file=sys.stderr)
        print("Run: .venv/bin/pytest tests/browser/test_screenshots.py", file=sys.stderr)
        return 1
    TARGET.mkdir(parents=True, exist_ok=True)
    for output, (names, height, width) in SHOTS.items():
        size = _save(_compose(names, height), width, TARGET / output)
        print(f"docs/screenshots/{output}: {size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
