"""A classifier two-sample test (Lopez-Paz and Oquab, 2017) between real text and a strategy's
text: a classifier is trained to tell them apart, cross-validated, and its held-out accuracy
says how far apart they are -- 0.5 when it cannot tell (the strategy writes like the real
text, to these features), 1.0 when every text gives itself away. Unlike a judge of "in the
style or not", it has no ceiling a pastiche reaches by sounding archaic: it is compared with
the real continuations of the same prompts, cut to the same length.

    result = two_sample(real, generated, fit_text=heldout_real)
    result.accuracy, result.low, result.high   # Wilson 95% interval over the 2n texts

Features: character n-grams (2 to 4, within words) whose vocabulary and idf are fitted on
`fit_text` only -- real text held out of every strategy's training (the task's validation
passages) -- so the features do not encode the training plays; optionally, with `embed`, a
sentence encoder's embeddings beside them. Logistic regression, stratified k-fold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from harness.metrics import stats

FOLDS = 5
SEED = 0
NGRAMS = (2, 4)


@dataclass(frozen=True)
class TwoSample:
    accuracy: float  # held-out, over the 2n texts
    low: float
    high: float
    n: int  # texts per side


def same_length(real: Sequence[str], generated: Sequence[str]) -> tuple[list[str], list[str]]:
    """Each pair cut to the words of its shorter side: length alone would tell them apart."""
    cut_real, cut_generated = [], []
    for a, b in zip(real, generated):
        words_a, words_b = a.split(), b.split()
        keep = min(len(words_a), len(words_b))
        cut_real.append(" ".join(words_a[:keep]))
        cut_generated.append(" ".join(words_b[:keep]))
    return cut_real, cut_generated


def kept_pairs(real: Sequence[str], generated: Sequence[str]) -> tuple[list[str], list[str]]:
    """The pairs cut to the same length (same_length), without those where either side is
    empty: what every comparison of real and written texts reads."""
    real, generated = same_length(real, generated)
    kept = [(a, b) for a, b in zip(real, generated) if a.strip() and b.strip()]
    return [a for a, _ in kept], [b for _, b in kept]


def two_sample(real: Sequence[str], generated: Sequence[str], fit_text: Sequence[str],
               embed: Callable[[list[str]], np.ndarray] | None = None, folds: int = FOLDS,
               seed: int = SEED) -> TwoSample:
    """How well a classifier tells `real` from `generated` (pairs of the same prompt, cut to
    the same length) out of fold. Pairs where either side is empty are left out."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    real, generated = kept_pairs(real, generated)
    n = len(real)
    if n < folds:
        return TwoSample(float("nan"), float("nan"), float("nan"), n)
    texts = real + generated
    labels = np.repeat([0, 1], n)
    try:
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True,
                                     min_df=2).fit(list(fit_text))
    except ValueError:  # held-out text too small to hold an n-gram twice: no features
        return TwoSample(float("nan"), float("nan"), float("nan"), n)
    features = vectorizer.transform(texts)
    if embed is not None:
        features = sparse.hstack([features, sparse.csr_matrix(embed(texts))]).tocsr()
    predicted = np.empty(2 * n, dtype=int)
    # A pair's two texts stay in the same fold: its prompt is no clue across folds
    pairs = np.arange(n)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(pairs, np.zeros(n)):
        rows_train = np.concatenate([train, train + n])
        rows_test = np.concatenate([test, test + n])
        model = LogisticRegression(max_iter=1000).fit(features[rows_train], labels[rows_train])
        predicted[rows_test] = model.predict(features[rows_test])
    correct = int((predicted == labels).sum())
    low, high = stats.wilson(correct, 2 * n)
    return TwoSample(correct / (2 * n), low, high, n)
