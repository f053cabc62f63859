"""Text that comes from outside the program, and the rules that keep it inert wherever it goes.

A results folder may come from a Colab zip or a colleague's pull request, an archive from a mirror,
a path from the command line: any of their strings can reach a Markdown page (and from there every
later pass over it: Python-Markdown's extensions, the print-site plugin's Jinja, the PDF), a
spreadsheet or a figure. One rule for each destination lives here, so no caller writes its own:

- `escape_markup`: a value printed into a page is one line of text that can open no HTML tag,
  Markdown link, attribute list, code span, Jinja expression, block (heading, admonition, list,
  fence) or bidirectional override;
- `spreadsheet_cell`: a CSV cell that a spreadsheet cannot run as a formula (OWASP's CSV
  injection), numbers left as numbers;
- `class_name_problem`: what a data set's class name may hold at all (the archive reader and the
  results contract refuse the rest), since class names also label figures and file rows.
"""

from __future__ import annotations

import re
import unicodedata

CLASS_NAME_CHARACTERS = 32
# Besides letters and digits (any script): enough for CIFAR-10's and CIFAR-100's names.
CLASS_NAME_PUNCTUATION = frozenset(" -_.'()")

# Anywhere in a value: HTML tags (< >), links and images ([ ]), attribute lists and every Jinja
# delimiter ({ }), code spans and fences (`), table cells (|). Each becomes an entity, which the
# browser shows as the character itself; the entities hold none of these, so escaping is idempotent.
_ENTITIES = str.maketrans({character: f"&#{ord(character)};" for character in "<>[]{}`|"})
# At the start of a value (which a template may print at the start of a line): what opens a block.
# Headings (#), admonitions (!!!), collapsible blocks (???), fences (~~~), setext underlines (=),
# definition lists (:), list items (-, +, * before a space) and rules (three of -, * or _). Bold
# text (`**word**`) and signed numbers (`-3.7`) open none, and are left as they are.
_BLOCK_OPENER = re.compile(r"^(?:[#!?~=:]|[-+*](?=\s|$)|([-*_])(?:\s*\1){2})")
_ORDERED_LIST = re.compile(r"^(\d+)([.)])(?=\s|$)")
# Category C*: control characters (newlines among them), format characters such as the
# right-to-left override, and unassigned or private code points; Z[lp]: line and paragraph separators.
_UNPRINTABLE_CATEGORIES = ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp")
# A cell a spreadsheet reads as a formula, per OWASP: one starting with these.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def one_line(value) -> str:
    """`value` as a single line: whitespace runs (newlines included) become one space, and any
    other unprintable character (a bidirectional override, say) the replacement character."""
    characters = []
    for character in str(value):
        if character.isspace():
            characters.append(" ")
        elif unicodedata.category(character) in _UNPRINTABLE_CATEGORIES:
            characters.append("\N{REPLACEMENT CHARACTER}")
        else:
            characters.append(character)
    # Runs of spaces become one (four would indent a code block); single spaces at either end stay,
    # since templates join values with the text around them.
    return re.sub(r" {2,}", " ", "".join(characters))


def escape_markup(value) -> str:
    """`value` as inert text for a Markdown page: one line, every markup character an entity.

    Idempotent: a value escaped twice reads the same. `&` is left alone for that reason (an entity
    in a value shows as its character, which is text either way).
    """
    text = one_line(value).translate(_ENTITIES)
    body = text.lstrip(" ")  # a block may open after up to three spaces
    lead = text[: len(text) - len(body)]
    ordered = _ORDERED_LIST.match(body)
    if ordered:
        return f"{lead}{ordered.group(1)}&#{ord(ordered.group(2))};{body[ordered.end() :]}"
    if _BLOCK_OPENER.match(body):
        return f"{lead}&#{ord(body[0])};{body[1:]}"
    return text


def spreadsheet_cell(value):
    """A CSV cell that no spreadsheet runs: text on one line (a line break inside a cell could
    start a row of its own), and a leading `'` where it would start like a formula.

    Numbers, and text that is a plain number (`-3.7`), stay as they are.
    """
    if not isinstance(value, str):
        return value
    value = one_line(value)
    if not value.startswith(_FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def spreadsheet_line(value) -> str:
    """Free text for a `# key: value` line above a CSV table: one line, and no comma-separated
    piece of it that a spreadsheet could read as a formula."""
    pieces = one_line(value).split(",")
    return ",".join(
        piece[: len(piece) - len(piece.lstrip())] + str(spreadsheet_cell(piece.lstrip())) for piece in pieces
    )


def class_name_problem(name) -> str | None:
    """Why `name` cannot be a class name, or None: 1..32 letters, digits and ` -_.'()`, starting
    with a letter or digit (so no markup, no formula, no mathtext `$`)."""
    if not isinstance(name, str):
        return f"is {type(name).__name__}, not text"
    if not 0 < len(name) <= CLASS_NAME_CHARACTERS:
        return f"holds {len(name)} characters (1..{CLASS_NAME_CHARACTERS})"
    if not name[0].isalnum() or not all(
        character.isalnum() or character in CLASS_NAME_PUNCTUATION for character in name
    ):
        return (
            f"{name!r} holds characters a class name cannot have (letters, digits and "
            f"{''.join(sorted(CLASS_NAME_PUNCTUATION))!r} only, starting with a letter or digit)"
        )
    return None
