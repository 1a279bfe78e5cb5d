"""The style judge of a generation task: a character n-gram classifier that tells text in the
task's style (its training passages) from text that is not (its contrast rows), trained once
per task and data and cached under cache_dir()/style-judge/.

    judge = style_judge(get_task("shakespeare"))
    judge.probability(["To be, or not to be", "Stocks fell on Monday"])  # P(in style)
    judge.summary()  # the record's style_judge_* fields

Held out from its training: the task's validation passages (other works than the training
ones, so the judge is measured on the style, not on the works it saw) and a seeded fifth of the
contrast rows. Its verdict on the evaluation passages is about the most a generator can reach.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from harness.metrics import stats
from harness.inputs.data import Split, load_split
from harness.errors import HarnessError, one_line
from harness.paths import cache_dir, write_atomic
from harness.inputs.tasks import GenerationTask

# Bump when the model, its settings or the split of the contrast rows change: old cache files
# then no longer match any key and are retrained.
JUDGE_VERSION = 1
CACHE_FOLDER = "style-judge"
IN_STYLE_THRESHOLD = 0.5  # P(in style) above this counts as in style
HELDOUT_CONTRAST_SHARE = 0.2
SEED = 0  # of the held-out contrast rows and of the prefixes' lengths
# Every training text is also learnt as its first 5 to 40 words (seeded): continuations are
# that short (48 new tokens is some 30-40 words, fewer when one stops early), and a judge that
# saw whole passages only calls short Shakespeare modern: of the test references' first 10 / 20 /
# 30 words it judged 36% / 85% / 97% in style, trained on prefixes too 93% / 99.3% / 99.7% (the
# held-out contrast rows' first 10 or more words stay under 1% in style).
PREFIX_WORDS = (5, 40)
MAX_ITER = 1000  # lbfgs converges in ~20 iterations on the Shakespeare data; room for others

# What each split is for, named in the error when one is missing.
_ROLES = {
    "train_split": "in-style training",
    "contrast_split": "contrast (text not in the style)",
    "validation_split": "held-out in-style",
    "eval_split": "evaluation",
}


@dataclass(frozen=True)
class StyleJudge:
    key: str  # <task>-<hash of the data, the split and JUDGE_VERSION>
    pipeline: object  # sklearn Pipeline: TfidfVectorizer + LogisticRegression
    heldout_correct: int
    n_heldout: int
    on_reference: float  # share of the evaluation passages judged in style
    on_contrast: float  # share of the held-out contrast rows judged in style
    train_s: float  # seconds its training took (when it was trained, not loaded)
    from_cache: bool = field(default=False, compare=False)

    def probability(self, texts) -> np.ndarray:
        """P(in style) of each text; "" gets the model's answer for no n-grams at all."""
        return _probability(self.pipeline, texts)

    def in_style(self, texts) -> np.ndarray:
        return self.probability(texts) > IN_STYLE_THRESHOLD

    @property
    def accuracy(self) -> float:
        return self.heldout_correct / self.n_heldout

    def summary(self) -> dict:
        """The record's judge fields."""
        low, high = stats.wilson(self.heldout_correct, self.n_heldout)
        return {
            "style_judge_key": self.key,
            "style_judge_accuracy": float(self.accuracy),
            "style_judge_accuracy_ci_low": low,
            "style_judge_accuracy_ci_high": high,
            "style_judge_n_heldout": int(self.n_heldout),
            "style_judge_on_reference": float(self.on_reference),
            "style_judge_on_contrast": float(self.on_contrast),
        }


def style_judge(task: GenerationTask, data_dir=None) -> StyleJudge:
    """The task's judge from the cache, or trained (seconds) and cached. The data is read every
    time: its fingerprints are part of the key, so changed data never meets a stale judge."""
    splits = {role: _load(task, role, data_dir) for role in _ROLES}
    key = judge_key(task, splits)
    path = cache_dir() / CACHE_FOLDER / f"{key}.joblib"
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
    judge = _train(task, key, splits)
    _write_cache(path, judge)
    return judge


def heldout_texts(task: GenerationTask, data_dir=None) -> list[str]:
    """The task's held-out in-style passages (its validation split: other works than the
    training ones), what the two-sample test fits its features on."""
    return [str(text) for text in _load(task, "validation_split", data_dir).texts]


def judge_key(task: GenerationTask, splits: dict[str, Split]) -> str:
    """<task>-<hash>. The fingerprints stand for the data wherever it came from (a folder or
    the hub); sklearn's version is in the hash because another version may fit another model
    and need not read this one's pickle."""
    import sklearn

    identity = {
        "judge_version": JUDGE_VERSION,
        "sklearn": sklearn.__version__,
        "heldout_contrast_share": HELDOUT_CONTRAST_SHARE,
        "seed": SEED, "prefix_words": PREFIX_WORDS,
        "splits": {role: [getattr(task, role), splits[role].fingerprint()] for role in _ROLES},
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{task.name}-{digest[:16]}"


def _load(task: GenerationTask, role: str, data_dir) -> Split:
    split = getattr(task, role)
    try:
        return load_split(task, split, data_dir)
    except HarnessError as err:
        raise HarnessError(f"the style judge of task '{task.name}' needs its {_ROLES[role]} "
                           f"split '{split}': {err.message}") from None


def _probability(pipeline, texts) -> np.ndarray:
    texts = [str(t) for t in texts]
    if not texts:
        return np.zeros(0)
    return pipeline.predict_proba(texts)[:, list(pipeline.classes_).index(1)]


def _contrast_parts(task: GenerationTask, contrast: Split) -> tuple[list[str], list[str]]:
    """(training, held-out) contrast rows: a seeded permutation, the held-out share last."""
    n = len(contrast)
    if n < 2:
        raise HarnessError(f"the style judge of task '{task.name}' needs at least 2 rows in its "
                           f"contrast split '{task.contrast_split}' (some to train on, some to "
                           f"hold out), got {n}")
    n_heldout = max(1, round(n * HELDOUT_CONTRAST_SHARE))
    order = np.random.default_rng(SEED).permutation(n)
    texts = [contrast.texts[i] for i in order]
    return texts[:n - n_heldout], texts[n - n_heldout:]


def _with_prefixes(texts) -> list[str]:
    """The texts, then each one's first n words, n seeded in PREFIX_WORDS. Joined by spaces:
    the char_wb analyzer splits on any whitespace, so line breaks would change nothing."""
    rng = np.random.default_rng(SEED)
    lengths = rng.integers(PREFIX_WORDS[0], PREFIX_WORDS[1] + 1, size=len(texts))
    return [*texts, *(" ".join(text.split()[:n]) for text, n in zip(texts, lengths))]


def _train(task: GenerationTask, key: str, splits: dict[str, Split]) -> StyleJudge:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    contrast_rows, heldout_negatives = _contrast_parts(task, splits["contrast_split"])
    positives = _with_prefixes(splits["train_split"].texts)
    negatives = _with_prefixes(contrast_rows)
    # Balanced class weights: the two sides differ in size (9,350 passages against 4,800
    # contrast rows for Shakespeare) and unweighted, the prior would tilt every unsure text (a
    # short or plain continuation) towards the bigger side; weighted, P = 0.5 is an even call
    # between the styles whatever their sizes, which is what "judged in style" should mean.
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2),
        LogisticRegression(class_weight="balanced", max_iter=MAX_ITER))
    start = time.perf_counter()
    try:
        pipeline.fit(positives + negatives, np.r_[np.ones(len(positives), dtype=np.int64),
                                                  np.zeros(len(negatives), dtype=np.int64)])
    except ValueError as err:  # e.g. too little text for any n-gram to appear twice
        raise HarnessError(f"the style judge of task '{task.name}' cannot be trained on its "
                           f"data ({one_line(err)})") from None
    train_s = time.perf_counter() - start

    def in_style(texts) -> np.ndarray:
        return _probability(pipeline, texts) > IN_STYLE_THRESHOLD

    heldout_in_style = in_style(splits["validation_split"].texts)
    heldout_contrast = in_style(heldout_negatives)
    return StyleJudge(
        key, pipeline,
        heldout_correct=int(heldout_in_style.sum() + (~heldout_contrast).sum()),
        n_heldout=len(heldout_in_style) + len(heldout_contrast),
        on_reference=float(in_style(splits["eval_split"].texts).mean()),
        on_contrast=float(heldout_contrast.mean()),
        train_s=train_s)


def _read_cache(path, key: str) -> StyleJudge | None:
    """The cached judge, or None when there is none or it cannot be used (truncated, corrupt,
    another version's): it is then trained again and the file replaced, never an error."""
    import joblib

    if not path.is_file():
        return None
    try:
        payload = joblib.load(path)
        if payload.get("key") != key or payload.get("judge_version") != JUDGE_VERSION:
            return None
        return StyleJudge(**payload["judge"], from_cache=True)
    except Exception:  # unpickling can fail in many ways; any of them means "train again"
        return None


def _write_cache(path, judge: StyleJudge) -> None:
    """Kept in the cache folder only (never beside the data, which may be read-only or
    shared). A cache that cannot be written costs a retraining next time, not the run."""
    import joblib

    fields = {name: getattr(judge, name) for name in
              ("key", "pipeline", "heldout_correct", "n_heldout", "on_reference",
               "on_contrast", "train_s")}
    buffer = io.BytesIO()
    joblib.dump({"key": judge.key, "judge_version": JUDGE_VERSION, "judge": fields}, buffer,
                compress=3)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    except OSError as err:
        warnings.warn(f"style judge not cached at {path} ({err.strerror or one_line(err)}); it "
                      f"will be trained again next time", stacklevel=2)
