"""A style judge with hard negatives: it tells real passages of the style from what the base
model writes when asked for the style (its zero-shot pastiche) and from the base model's modern
paraphrases of the same passages, and it is trained on the task's validation works -- disjoint
from the works the strategies train on and from the evaluation works. Its verdicts are
scores, not a threshold: per strategy, the AUC of real continuations against the strategy's
(0.5: the judge cannot rank them apart) and the strategy's mean log-odds of being real.

    negatives = write_negatives(cell, model, tokenizer)     # in the cell's process, cached
    judge = hard_judge(negatives)                           # in the parent: seconds
    judge.compare(references, continuations)                # the record's hard_judge_* fields

Unlike the contrast judge (harness.metrics.style_judge: Shakespeare or modern prose), an
archaic register alone does not pass it: its negatives are archaic too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessError, one_line
from harness.inputs.data import load_split
from harness.metrics import stats
from harness.metrics.lm_generation import HfGenerator
from harness.metrics.lm_scoring import instruction_context_ids
from harness.metrics.two_sample import NGRAMS, kept_pairs, same_length
from harness.paths import cache_dir, write_atomic

VERSION = 1
CACHE_FOLDER = "style-judge"
PASSAGES = 200  # validation passages written from, for each kind of negative
# Fewer: written faster (400 generations are minutes on a CPU), a weaker judge; the count is
# in the cache key and in every record (hard_judge_n_positive). The test suite uses a few.
PASSAGES_ENV = "HARNESS_JUDGE_PASSAGES"
PARAPHRASE = "Rewrite this passage in plain, modern English:\n\n{passage}"
FOLDS = 5
BOOTSTRAP_DRAWS = 1000
SEED = 0


def passage_count() -> int:
    """PASSAGES, or $HARNESS_JUDGE_PASSAGES where set (a positive integer)."""
    value = os.environ.get(PASSAGES_ENV, "").strip()
    if not value:
        return PASSAGES
    if not value.isdigit() or int(value) < 1:
        raise HarnessError(f"${PASSAGES_ENV} must be a positive integer (validation passages "
                           f"the hard-negative judge is written from), got {value[:40]!r}")
    return int(value)


def negatives_key(cell, spec, passages: list[str]) -> str:
    """What the written negatives depend on: the task's writing settings, the passages, the
    base model's weights and the device's kind (sampling draws differ across devices)."""
    task = cell.task
    identity = {
        "version": VERSION, "paraphrase": PARAPHRASE, "passages": passages,
        "task": {name: getattr(task, name) for name in (
            "instruction", "prompt_from", "prompt_words", "max_new_tokens", "temperature",
            "top_p", "generation_seed")},
        "model": spec.identity(), "device": str(cell.device).split(":")[0],
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"{task.name}-negatives-{digest[:16]}"


def write_negatives(cell, model, tokenizer, spec) -> dict:
    """The base model's pastiche (a continuation of each passage's prompt, written as the
    zero-shot strategy writes) and modern paraphrase of up to PASSAGES validation passages,
    from the cache or written and cached."""
    task = cell.task
    try:
        split = load_split(task, task.validation_split, cell.data_dir)
    except HarnessError as err:
        raise HarnessError(f"the hard-negative judge of task '{task.name}' needs its held-out "
                           f"in-style split '{task.validation_split}': {err.message}") from None
    # The rows' own order (the offline copies are shuffled once); a seeded draw would do as well
    passages = [str(text).strip() for text in split.texts[:passage_count()] if str(text).strip()]
    key = negatives_key(cell, spec, passages)
    path = cache_dir() / CACHE_FOLDER / f"{key}.json"
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached
    except (OSError, ValueError):
        pass
    writer = HfGenerator(model, tokenizer, task)
    prompts, references = zip(*map(task.split_prompt, passages)) if passages else ((), ())
    pastiche = writer.generate(list(prompts)).texts
    requests = [instruction_context_ids(tokenizer, PARAPHRASE.format(passage=p)) for p in passages]
    modern = writer.generate_ids(requests).texts
    negatives = {"key": key, "references": list(references), "pastiche": list(pastiche),
                 "modern": list(modern)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(negatives).encode())
    except OSError as err:
        warnings.warn(f"hard negatives not cached at {path} ({err.strerror or one_line(err)}); "
                      f"they will be written again next time", stacklevel=2)
    return negatives


@dataclass(frozen=True)
class HardJudge:
    key: str
    pipeline: object | None  # sklearn Pipeline; None when the negatives cannot train one
    cv_auc: float  # out of fold, real passages against both kinds of negative
    n_positive: int
    n_negative: int

    def log_odds(self, texts) -> np.ndarray:
        return self.pipeline.decision_function([str(t) for t in texts])

    def summary(self) -> dict:
        return {"hard_judge_key": self.key, "hard_judge_cv_auc": self.cv_auc,
                "hard_judge_n_positive": self.n_positive,
                "hard_judge_n_negative": self.n_negative}

    def compare(self, references, continuations) -> dict:
        """AUC of the real continuations against the strategy's (pairs of a prompt, each cut
        to its shorter side's words), with a bootstrap over prompts; the mean log-odds of
        each side, the strategy's with a t interval over prompts."""
        real, written = kept_pairs(references, continuations)
        fields = dict.fromkeys(("hard_judge_auc", "hard_judge_auc_ci_low",
                                "hard_judge_auc_ci_high", "hard_judge_log_odds",
                                "hard_judge_log_odds_ci_low", "hard_judge_log_odds_ci_high",
                                "hard_judge_reference_log_odds"), float("nan"))
        if self.pipeline is None or len(real) < 2:
            return fields
        real_odds, written_odds = self.log_odds(real), self.log_odds(written)
        n = len(real)
        low, high = stats.bootstrap(lambda rows: stats.auc(real_odds[rows], written_odds[rows]),
                                    n, BOOTSTRAP_DRAWS, SEED)
        mean = float(written_odds.mean())
        odds_low, odds_high = stats.t_interval(mean, float(written_odds.var(ddof=1) / n), n - 1,
                                               stats.CONFIDENCE)
        fields.update({"hard_judge_auc": stats.auc(real_odds, written_odds),
                       "hard_judge_auc_ci_low": low, "hard_judge_auc_ci_high": high,
                       "hard_judge_log_odds": mean, "hard_judge_log_odds_ci_low": odds_low,
                       "hard_judge_log_odds_ci_high": odds_high,
                       "hard_judge_reference_log_odds": float(real_odds.mean())})
        return fields


def training_texts(negatives: dict) -> tuple[list[str], list[str]]:
    """(real, negative) texts: each real continuation cut to its pastiche's words (a
    strategy's continuation is compared the same way), and the paraphrase cut to the same
    length, so that length tells nothing."""
    real, negative = [], []
    for reference, pastiche, modern in zip(negatives["references"], negatives["pastiche"],
                                           negatives["modern"]):
        (cut_real,), (cut_pastiche,) = same_length([reference], [pastiche])
        _, (cut_modern,) = same_length([cut_real], [modern])
        real.append(cut_real)
        negative += [cut_pastiche, cut_modern]
    return [t for t in real if t.strip()], [t for t in negative if t.strip()]


@functools.lru_cache(maxsize=4)
def _trained(key: str, real: tuple[str, ...], negative: tuple[str, ...]) -> HardJudge:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline, make_union

    texts, labels = [*real, *negative], np.repeat([1, 0], [len(real), len(negative)])
    if min(len(real), len(negative)) < FOLDS:
        return HardJudge(key, None, float("nan"), len(real), len(negative))

    def pipeline():
        # Character n-grams within words see spelling and vocabulary ("thou", "'d"); word
        # 1-2-grams see the order of words too, where a pastiche of archaic words strung in
        # modern phrases shows. Balanced: two negatives per real passage.
        return make_pipeline(
            make_union(TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS,
                                       sublinear_tf=True, min_df=2),
                       TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                       min_df=2, token_pattern=r"(?u)\b\w+\b")),
            LogisticRegression(class_weight="balanced", max_iter=1000))

    try:
        folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
        out_of_fold = cross_val_predict(pipeline(), texts, labels, cv=folds,
                                        method="decision_function")
        fitted = pipeline().fit(texts, labels)
    except ValueError:  # too little text for an n-gram to appear twice
        return HardJudge(key, None, float("nan"), len(real), len(negative))
    return HardJudge(key, fitted, stats.auc(out_of_fold[labels == 1], out_of_fold[labels == 0]),
                     len(real), len(negative))


def hard_judge(negatives: dict) -> HardJudge:
    """The judge of these negatives, trained once per process (a run's records share it)."""
    real, negative = training_texts(negatives)
    return _trained(negatives["key"], tuple(real), tuple(negative))
