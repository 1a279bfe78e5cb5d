"""The style judge: its quality on the shared Shakespeare data (trained once for the module), its
cache (key, reuse, corrupt files) and its errors, the last two on a small made-up task."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.paths import CACHE_ENV
from harness.metrics.style_judge import CACHE_FOLDER, style_judge
from harness.inputs.tasks import GenerationTask, get_task

SUMMARY_FIELDS = {"style_judge_key", "style_judge_accuracy", "style_judge_accuracy_ci_low",
                  "style_judge_accuracy_ci_high", "style_judge_n_heldout",
                  "style_judge_on_reference", "style_judge_on_contrast"}


@pytest.fixture(scope="module")
def shakespeare(data_dir, tmp_path_factory):
    """(judge, its cache folder, seconds the first call took), trained once."""
    if not (data_dir / "shakespeare" / "contrast.csv").is_file():
        pytest.skip(f"no Shakespeare data at {data_dir}")
    cache = tmp_path_factory.mktemp("judge-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(cache))
        start = time.perf_counter()
        judge = style_judge(get_task("shakespeare"), data_dir)
        yield judge, cache, time.perf_counter() - start


def test_judge_tells_shakespeare_from_modern_text(shakespeare):
    judge, _, _ = shakespeare
    summary = judge.summary()
    assert set(summary) == SUMMARY_FIELDS
    assert summary["style_judge_accuracy"] > 0.9
    assert summary["style_judge_on_reference"] > 0.9
    assert summary["style_judge_on_contrast"] < 0.1
    assert summary["style_judge_n_heldout"] == 706 + 1200  # validation + a fifth of 6,000
    assert summary["style_judge_accuracy_ci_low"] <= summary["style_judge_accuracy"] \
        <= summary["style_judge_accuracy_ci_high"]
    assert summary["style_judge_key"].startswith("shakespeare-")


def test_probability_takes_any_text(shakespeare):
    judge, _, _ = shakespeare
    p = judge.probability(["", "Stocks fell sharply on Monday as investors sold tech shares.",
                           ("Now is the winter of our discontent made glorious summer by this "
                            "sun of York, and all the clouds that lour'd upon our house")])
    assert p.shape == (3,) and ((p >= 0) & (p <= 1)).all()
    assert p[1] < 0.5 < p[2]
    assert judge.probability([]).shape == (0,)
    assert list(judge.in_style(["", "thou art"])) == list(judge.probability(["", "thou art"]) > 0.5)


def test_second_call_loads_the_cached_judge(shakespeare, data_dir, monkeypatch):
    judge, cache, first_s = shakespeare
    monkeypatch.setenv(CACHE_ENV, str(cache))
    assert [p.name for p in (cache / CACHE_FOLDER).iterdir()] == [f"{judge.key}.joblib"]
    start = time.perf_counter()
    again = style_judge(get_task("shakespeare"), data_dir)
    assert again.from_cache and not judge.from_cache
    assert time.perf_counter() - start < first_s
    assert again.summary() == judge.summary()
    text = ["Good night, sweet prince"]
    assert again.probability(text) == pytest.approx(judge.probability(text))


# ----- a made-up task: fast to train -----

ARCHAIC = "thou thee thy hath doth art wherefore prithee anon ere mine whence alas forsooth".split()
MODERN = "computer email phone internet software market online update data app network".split()


def _rows(vocabulary, n, rng) -> list[str]:
    return [" ".join(rng.choice(vocabulary, size=12)) for _ in range(n)]


def _write(folder, split, texts):
    import pandas as pd

    pd.DataFrame({"text": texts}).to_csv(folder / f"{split}.csv", index=False)


@pytest.fixture
def small_task(tmp_path, monkeypatch):
    """(task, data folder) of a two-vocabulary task, and an empty cache folder."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "archaic"
    folder.mkdir(parents=True)
    for split, vocabulary, n in (("train", ARCHAIC, 40), ("validation", ARCHAIC, 10),
                                 ("test", ARCHAIC, 10), ("contrast", MODERN, 40)):
        _write(folder, split, _rows(vocabulary, n, rng))
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return GenerationTask(name="archaic", instruction="Write archaically."), folder.parent


def test_corrupt_cache_is_trained_over(small_task, tmp_path):
    task, data = small_task
    judge = style_judge(task, data)
    path = tmp_path / "cache" / CACHE_FOLDER / f"{judge.key}.joblib"
    for garbage in (b"", b"not a pickle", path.read_bytes()[:100]):
        path.write_bytes(garbage)
        again = style_judge(task, data)
        assert not again.from_cache and again.key == judge.key
        assert style_judge(task, data).from_cache  # and the file is whole again


def test_judge_is_cached_away_from_the_data_and_keyed_by_it(small_task, tmp_path):
    task, data = small_task
    before = sorted(p.name for p in (data / "archaic").iterdir())
    judge = style_judge(task, data)
    assert judge.accuracy == 1.0 and judge.on_reference == 1.0 and judge.on_contrast == 0.0
    assert sorted(p.name for p in (data / "archaic").iterdir()) == before
    assert (tmp_path / "cache" / CACHE_FOLDER / f"{judge.key}.joblib").is_file()
    _write(data / "archaic", "validation", ["thou art mine anon"] * 3)
    assert style_judge(task, data).key != judge.key


def test_missing_split_is_one_line(small_task):
    task, data = small_task
    (data / "archaic" / "contrast.csv").unlink()
    with pytest.raises(HarnessError, match=r"needs its contrast .* split 'contrast'") as err:
        style_judge(task, data)
    assert "\n" not in err.value.format_message()


def test_too_few_contrast_rows(small_task):
    task, data = small_task
    _write(data / "archaic", "contrast", ["email phone online"])
    with pytest.raises(HarnessError, match="at least 2 rows in its contrast split"):
        style_judge(task, data)
