"""The Spanish that learners read uses the glossary's terms, not the variants it rejects.

GLOSSARY.md (beside the checkout, in the shared folder) lists one Spanish term per concept and,
in parentheses, the variants it rules out: `(not "chequeo de salud")`, `never "usted"`. This test
reads those variants from the file when it is there, adds the ones issue 12 names (so a clone
without the shared folder still checks them), and looks for each one, as a whole word and in any
case, in every Spanish text a learner reads: lessons, quizzes, labs, certification items and
tasks, and the Spanish catalogue. Code is not prose: fenced blocks are skipped, and a hit made
only of inline code does not count (but "la cabeza de `main`" does: its words are prose).
"""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from django.conf import settings

GLOSSARY = settings.BASE_DIR.parent / "shared" / "GLOSSARY.md"
CONTENT = Path(settings.CONTENT_DIR)
CATALOGUE = settings.BASE_DIR / "locale" / "es" / "LC_MESSAGES" / "django.po"

# The variants issue 12 names, with the term to use instead. The glossary covers the concepts;
# these are the inflected forms learners actually met, so they are checked even without it.
ISSUE_VARIANTS = {
    "peticiones": "solicitudes",
    "chequeos de salud": "verificaciones de salud",
    "añade": "agrega",
    "añadir": "agregar",
    "pulsa": "presiona",
    "pulsar": "presionar",
    "está arriba": "está en funcionamiento / responde",
    "la cabeza de main": "la punta de main / el último commit de main",
    # "correr" for a program or a pod ("corre seis pods", "sigue corriendo"): a calque of "run".
    "corre": "ejecuta / se ejecuta",
    "corren": "ejecutan / se ejecutan",
    "correr": "ejecutar",
    "corriendo": "en ejecución / en funcionamiento",
}

# Idioms where a rejected word is right: a clock "sigue corriendo", a time "empieza a correr",
# someone "corre el riesgo". A hit inside one of these does not count.
IDIOMS = [
    re.compile(r"\b(?:tiempo|reloj)\b(?:\s+\S+){0,6}?\s+corr\w*", re.I),
    re.compile(r"\bcorr\w*\s+(?:el|un|ese|este)\s+riesgo\b", re.I),
]

# Hits in files that other people own, being fixed (issue 12). The list may only shrink: each
# entry must still match a hit, so whoever fixes one removes it here and the test tightens.
# Entries are (path relative to the repository, rejected variant); lines move as files change.
_LESSONS = "content/courses/gitops-foundations/lessons/"
# being fixed (issue 12): quizzes, owned by the lessons' author ("correr" for "run").
KNOWN: set[tuple[str, str]] = {
    (_LESSONS + "declarative-vs-imperative.quiz.yaml", "corriendo"),
    (_LESSONS + "progressive-delivery.quiz.yaml", "corre"),
    (_LESSONS + "progressive-delivery.quiz.yaml", "corriendo"),
    (_LESSONS + "pull-vs-push-delivery.quiz.yaml", "corre"),
}


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    variant: str
    preferred: str

    def __str__(self) -> str:
        return f'{self.path}:{self.line}: "{self.variant}" -> use "{self.preferred}"'


# --- The glossary --------------------------------------------------------------------------------

# `not "X"` / `never "X"`, and what follows the closing quote up to the end of the parenthesis.
_REJECTED = re.compile(r'\b(?:not|never)\s+["“]([^"”]+)["”]([^)"“;]*)', re.I)


def glossary_variants(text: str) -> dict[str, str]:
    """Rejected variant -> preferred term, from the glossary's table rows and its paragraphs.

    A rule that only applies in context ("never 'falla' in the same text" as 'fallo': 'falla' is
    also a verb) cannot be checked word by word and is left out.
    """
    variants: dict[str, str] = {}
    # A table row is one rule; outside the table a rule is a paragraph ("Voice: tú, ...").
    blocks = re.split(r"\n\s*\n|\n(?=\s*\|)|(?<=\|)\n", text)
    for block in blocks:
        block = " ".join(block.split())
        cells = [cell.strip() for cell in block.strip("|").split("|")]
        if block.startswith("|") and len(cells) >= 2:
            spanish = cells[-1]
            preferred = re.sub(r"\s*\((?:not|never)\b[^)]*\)", "", spanish, flags=re.I).strip()
        else:
            spanish = block
            preferred = block.split(",")[0].split(".")[0].strip()
        for match in _REJECTED.finditer(spanish):
            variant, qualifier = match.group(1).strip(), match.group(2).lower()
            if "same text" in qualifier or "only in" in qualifier:
                continue
            variants.setdefault(variant.lower(), preferred or spanish)
    return variants


def rejected_variants() -> dict[str, str]:
    variants = dict(ISSUE_VARIANTS)
    if GLOSSARY.is_file():
        variants.update(glossary_variants(GLOSSARY.read_text(encoding="utf-8")))
    return variants


def _pattern(variant: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(word) for word in variant.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.I)


# --- Prose: what is code and what is not -------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+)((?:(?!\n\s*\n).)+?)\1", re.S)


def _prose(text: str, *, fences: bool) -> tuple[str, list[bool]]:
    """The text with fenced blocks blanked (lines kept) and a mask of inline-code characters."""
    if fences:
        lines, inside = [], False
        for line in text.split("\n"):
            if _FENCE.match(line):
                inside = not inside
                lines.append("")
            else:
                lines.append("" if inside else line)
        text = "\n".join(lines)
    # Inline code keeps its words (so "la cabeza de `main`" reads as prose) without its
    # backticks, and the mask says which characters were code.
    prose, code, last = [], [], 0
    for match in _INLINE_CODE.finditer(text):
        between = text[last : match.start()]
        prose.append(between)
        code += [False] * len(between)
        prose.append(match.group(2))
        code += [True] * len(match.group(2))
        last = match.end()
    prose.append(text[last:])
    code += [False] * (len(text) - last)
    return "".join(prose), code


def _hits(
    text: str, *, path: str, first_line: int, variants: dict[str, str], fences: bool
) -> list[Hit]:
    prose, code = _prose(text, fences=fences)
    for idiom in IDIOMS:
        for match in idiom.finditer(prose):
            code[match.start() : match.end()] = [True] * (match.end() - match.start())
    found = []
    for variant, preferred in variants.items():
        for match in _pattern(variant).finditer(prose):
            span = range(match.start(), match.end())
            if all(code[i] or prose[i].isspace() for i in span):
                continue  # only code (a command, a value) or an idiom, not prose
            line = first_line + prose.count("\n", 0, match.start())
            found.append(Hit(path, line, match.group(0).lower(), preferred))
    return found


# --- Where Spanish lives -------------------------------------------------------------------------


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def spanish_markdown() -> list[Path]:
    return sorted(
        [
            *CONTENT.glob("courses/*/lessons/*.es.md"),
            *CONTENT.glob("labs/*/steps/*.es.md"),
            *CONTENT.glob("certifications/*/tasks/*/steps/*.es.md"),
        ]
    )


def spanish_yaml() -> list[Path]:
    return sorted(
        [
            *CONTENT.glob("courses/*/course.yaml"),
            *CONTENT.glob("courses/*/lessons/*.quiz.yaml"),
            *CONTENT.glob("labs/*/lab.yaml"),
            *CONTENT.glob("certifications/*/certification.yaml"),
            *CONTENT.glob("certifications/*/items/*.yaml"),
            *CONTENT.glob("certifications/*/tasks/*/lab.yaml"),
        ]
    )


def yaml_spanish_texts(text: str) -> list[tuple[int, str]]:
    """(1-based line, text) of every string under an `es:` key, at any depth."""
    texts: list[tuple[int, str]] = []
    stack = [yaml.compose(text, Loader=yaml.SafeLoader)]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "es" and isinstance(value, yaml.ScalarNode):
                    # A quoted or block scalar starts its text one line below its mark only for
                    # block styles; the mark's line is where `es:` is, close enough to find it.
                    texts.append((value.start_mark.line + 1, str(value.value)))
                else:
                    stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(texts)


def _unescape_po(quoted: str) -> str:
    # An escaped newline becomes a space, so that a text's lines stay the file's lines.
    return re.sub(r'\\(["\\nt])', lambda m: {"n": " ", "t": " "}.get(m[1], m[1]), quoted)


def po_translations(text: str) -> list[tuple[int, str]]:
    """(1-based line, text) of every msgstr of a .po file, its continuation lines joined by
    newlines (so a hit's line in the text is its line in the file)."""
    texts: list[tuple[int, list[str]]] = []
    in_msgstr = False
    for number, line in enumerate(text.splitlines(), start=1):
        if match := re.match(r'msgstr(?:\[\d+\])?\s+"(.*)"\s*$', line):
            texts.append((number, [_unescape_po(match.group(1))]))
            in_msgstr = True
        elif in_msgstr and (match := re.match(r'"(.*)"\s*$', line)):
            texts[-1][1].append(_unescape_po(match.group(1)))
        else:
            in_msgstr = False
    return [(number, "\n".join(pieces)) for number, pieces in texts if "".join(pieces)]


def all_hits(variants: dict[str, str]) -> list[Hit]:
    hits: list[Hit] = []
    for path in spanish_markdown():
        text = path.read_text(encoding="utf-8")
        hits += _hits(text, path=_relative(path), first_line=1, variants=variants, fences=True)
    for path in spanish_yaml():
        for line, text in yaml_spanish_texts(path.read_text(encoding="utf-8")):
            hits += _hits(
                text, path=_relative(path), first_line=line, variants=variants, fences=True
            )
    if CATALOGUE.is_file():
        for line, text in po_translations(CATALOGUE.read_text(encoding="utf-8")):
            hits += _hits(
                text, path=_relative(CATALOGUE), first_line=line, variants=variants, fences=False
            )
    return hits


# --- The tests -----------------------------------------------------------------------------------


def test_no_rejected_variant_in_spanish_texts():
    hits = all_hits(rejected_variants())
    new = [hit for hit in hits if (hit.path, hit.variant) not in KNOWN]
    assert not new, "Spanish text uses a variant the glossary rejects:\n" + "\n".join(
        str(hit) for hit in new
    )


def test_known_hits_still_exist_so_the_list_only_shrinks():
    present = {(hit.path, hit.variant) for hit in all_hits(rejected_variants())}
    fixed = sorted(KNOWN - present)
    assert not fixed, "Fixed, remove from KNOWN in tests/test_glossary.py: " + ", ".join(
        f"{path}: {variant}" for path, variant in fixed
    )


def test_the_search_covers_every_kind_of_spanish_text():
    assert spanish_markdown() and spanish_yaml()
    kinds = {path.parts[len(CONTENT.parts)] for path in spanish_markdown() + spanish_yaml()}
    assert kinds == {"courses", "labs", "certifications"}
    assert CATALOGUE.is_file() and po_translations(CATALOGUE.read_text(encoding="utf-8"))


@pytest.mark.skipif(
    not GLOSSARY.is_file(), reason="the shared GLOSSARY.md is not beside this clone"
)
def test_the_glossary_is_read():
    variants = glossary_variants(GLOSSARY.read_text(encoding="utf-8"))
    assert variants["chequeo de salud"].startswith("verificación de salud")
    assert variants["petición"].startswith("solicitud")
    assert variants["añade"].startswith("agrega")
    assert variants["usted"] == "Voice: tú"
    assert "falla" not in variants  # a rule that depends on context, not a word to ban


# --- The matcher itself: what counts as a hit ----------------------------------------------------

MATCHER = {
    "pulsa": "presiona",
    "la cabeza de main": "el último commit de main",
    "corre": "se ejecuta",
    "correr": "ejecutar",
    "corriendo": "en ejecución",
}


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("Pulsa **Verificar**.", [1]),
        ("Primero lee.\nLuego PULSA el botón.", [2]),
        ("está en la cabeza\nde `main` ahora", [1]),  # wrapped, and the code word is prose
        ("el comando `pulsa` no existe", []),  # inline code only
        ("```bash\npulsa --now\n```\n", []),  # fenced block
        ("compulsa y pulsación", []),  # whole words only
        ("el agente corre en el clúster", [1]),
        ("El reloj es el del\nservidor y sigue corriendo.", []),  # an idiom, right as it is
        ("El tiempo de %(minutes)s minutos empieza a correr.", []),
    ],
)
def test_matcher(text, lines):
    hits = _hits(text, path="x.es.md", first_line=1, variants=MATCHER, fences=True)
    assert [hit.line for hit in hits] == lines


def test_yaml_and_po_texts_carry_their_lines():
    document = 'title:\n  en: Press\n  es: "Pulsa aquí"\nsteps:\n  - m:\n      es: Bien\n'
    assert yaml_spanish_texts(document) == [(3, "Pulsa aquí"), (6, "Bien")]
    catalogue = 'msgid "Press"\nmsgstr ""\n"Pulsa "\n"\\"aquí\\""\n\nmsgid "x"\nmsgstr "y"\n'
    assert po_translations(catalogue) == [(2, '\nPulsa \n"aquí"'), (7, "y")]
    hits = _hits(
        po_translations(catalogue)[0][1],
        path="django.po",
        first_line=2,
        variants=MATCHER,
        fences=False,
    )
    assert [hit.line for hit in hits] == [3]
