"""Text from data and records made safe for each format, and the report's own Markdown turned
into HTML.

`md_escape` makes any value literal Markdown. The report's texts (notes, summaries) are
Markdown whose only markup is ours: *emphasis*, **strong** and `code`; every value from
records in them went through `md_escape`. `inline_html` turns exactly that subset into HTML,
so the HTML page shows no Markdown syntax and makes no element out of data.
"""

from __future__ import annotations

import html
import re

# Markdown would read these as markup: HTML and entities (< > &), table cells (|), escapes
# (\\), and inline elements (links and images [ ], emphasis * _, code `, strikethrough ~).
# An underscore between two letters or digits (`Q4_1`, `n_train`) can never start or end
# emphasis, so it is left readable.
_MD_SPECIAL = re.compile(r"[&<>\\|\[\]*`~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


# A value from data or records is shown at most this long: a 1 MB text would be a 1 MB line.
MAX_CHARS = 500
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x9f]")  # what split() leaves of C0 and C1


def md_escape(value, limit: int = MAX_CHARS) -> str:
    """`value` as literal Markdown text on one line: rendered, it shows exactly these
    characters and makes no element (no HTML, link, image, emphasis or extra table cell);
    control characters shown as \\xNN, and cut with an ellipsis past `limit` characters."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    text = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m[0], "\\" + m[0]), text)


# One token of our Markdown subset: an escaped character, one of md_escape's entities, a code
# span, strong or emphasis (whose content may hold escapes but no nested markup of the same kind).
_TOKEN = re.compile(r"\\(?P<escaped>.)|&(?P<entity>amp|lt|gt);|`(?P<code>[^`]+)`"
                    r"|\*\*(?P<strong>(?:\\.|[^*\\])+)\*\*|\*(?P<em>(?:\\.|[^*\\])+)\*")


def inline_html(markdown: str) -> str:
    """The report's Markdown subset (see the module docstring) as HTML; everything else is
    text, escaped."""
    parts, position = [], 0
    for match in _TOKEN.finditer(markdown):
        parts.append(html.escape(markdown[position:match.start()]))
        position = match.end()
        if match["escaped"] is not None:
            parts.append(html.escape(match["escaped"]))
        elif match["entity"]:
            parts.append(f"&{match['entity']};")
        elif match["code"]:
            parts.append(f"<code>{html.escape(match['code'])}</code>")
        elif match["strong"]:
            parts.append(f"<strong>{inline_html(match['strong'])}</strong>")
        else:
            parts.append(f"<em>{inline_html(match['em'])}</em>")
    parts.append(html.escape(markdown[position:]))
    return "".join(parts)
