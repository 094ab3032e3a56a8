#!/usr/bin/env python3
"""Fails when the Spanish catalogue is incomplete.

Three ways it can be: an entry without a translation, a fuzzy entry, or a string in the code
that was never extracted into the catalogue. The last is found by extracting into a scratch
copy of the project's locale folder, so the working tree is never changed.
"""

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"


def entries(text: str) -> dict[str, tuple[str, bool]]:
    """msgid -> (msgstr, fuzzy) for every live entry of a .po file."""
    found = {}
    for block in text.split("\n\n"):
        if "msgid" not in block or block.lstrip().startswith("#~"):
            continue
        fuzzy = "#, fuzzy" in block or re.search(r"^#,.*\bfuzzy\b", block, re.M) is not None
        msgctxt = _field(block, "msgctxt")
        msgid = _field(block, "msgid")
        plural = _field(block, "msgid_plural")
        strs = re.findall(r'^msgstr(?:\[\d+\])?((?:\s*".*")+)', block, re.M)
        value = "".join(_join(s) for s in strs) if plural else (_join(strs[0]) if strs else "")
        untranslated = any(_join(s) == "" for s in strs) if plural else value == ""
        if msgid:
            found[f"{msgctxt}\x04{msgid}" if msgctxt else msgid] = (
                "" if untranslated else value,
                fuzzy,
            )
    return found


def _field(block: str, name: str) -> str:
    match = re.search(rf'^{name}((?:\s*".*")+)', block, re.M)
    return _join(match.group(1)) if match else ""


def _join(quoted: str) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', quoted))


def main() -> int:
    if not PO.exists():
        print(f"{PO.relative_to(ROOT)} does not exist; run 'make messages'.")
        return 1
    current = entries(PO.read_text(encoding="utf-8"))
    problems = [f"untranslated: {msgid!r}" for msgid, (s, _f) in current.items() if not s]
    problems += [f"fuzzy: {msgid!r}" for msgid, (_s, fuzzy) in current.items() if fuzzy]

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "project"
        shutil.copytree(
            ROOT, copy, ignore=shutil.ignore_patterns(".venv", "var", ".git", "node_modules")
        )
        result = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "makemessages",
                "--locale",
                "es",
                "--no-obsolete",
                "--ignore=node_modules",
            ],
            cwd=copy,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            print(result.stdout, result.stderr)
            return 1
        extracted = entries((copy / PO.relative_to(ROOT)).read_text(encoding="utf-8"))
    problems += [
        f"not in the catalogue yet: {msgid!r}" for msgid in extracted if msgid not in current
    ]

    if problems:
        print("The Spanish catalogue is incomplete ('make messages', then translate):")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"Spanish catalogue: {len(current)} entries, all translated, none fuzzy.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
