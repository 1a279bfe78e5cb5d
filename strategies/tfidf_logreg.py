"""tfidf-logreg: TF-IDF word and bigram features + logistic regression (scikit-learn), the
classic baseline every comparison needs. No pretrained model.

    harness run --strategies tfidf-logreg --task agnews
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harness.api.search import Choice, IntRange, LogUniform
from harness.inputs.data import Split
from harness.api.resources import Resources
from harness.api.settings import above, at_least
from harness.api.strategy import Context, Footprint, Predictions, StrategyBase
from harness.inputs.tasks import Task
from strategies.common import only_task, save_sklearn
from strategies.linear import fit_logistic_regression, predict_proba


@dataclass
class TfidfLogregConfig:
    max_ngram: int = field(default=2, metadata={"help": "word n-grams from 1 to this"})
    min_df: int = field(default=1, metadata={
        "help": "ignore terms in fewer training rows than this"})
    max_features: int = field(default=200_000, metadata={
        "help": "vocabulary cap, most frequent terms kept"})
    sublinear_tf: bool = field(default=True, metadata={
        "help": "1 + log(tf): long articles do not dominate"})
    C: float = field(default=10.0, metadata={
        "help": "inverse L2 strength; sparse TF-IDF likes weak regularization"})
    max_iter: int = field(default=1000, metadata={
        "help": "the logistic regression's solver iterations at most"})

    def __post_init__(self):
        at_least(self, 1, "max_ngram", "min_df", "max_features", "max_iter")
        above(self, 0, "C")


class TfidfLogreg(StrategyBase):
    name = "tfidf-logreg"
    description = "TF-IDF word/bigram features + logistic regression (scikit-learn baseline)."
    config_class = TfidfLogregConfig
    search_space = {"C": LogUniform(1e-1, 1e3), "max_ngram": IntRange(1, 3),
                    "sublinear_tf": Choice(True, False)}
    model_kind = None
    backends = ("scikit-learn",)
    devices = ("cpu",)  # never uses an accelerator: priced and measured as a CPU cell
    deterministic = True  # lbfgs has no random draw: the seed changes nothing
    resources = Resources(gpus=0, cpus=1, memory_gib=1, model_memory_multiple=0)

    def __init__(self, config: TfidfLogregConfig, context: Context):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.config, self.context = config, context
        self.vectorizer = TfidfVectorizer(ngram_range=(1, config.max_ngram), min_df=config.min_df,
                                          max_features=config.max_features,
                                          sublinear_tf=config.sublinear_tf)
        self.classifier = None

    def fit(self, tasks: Sequence[tuple[Task, Split]]) -> None:
        _, train = only_task(tasks)
        features = self.vectorizer.fit_transform(train.texts)
        self.classifier = fit_logistic_regression(features, train.labels, self.context,
                                                  self.config.C, self.config.max_iter)

    def predict(self, texts: Sequence[str], task: Task, trial: int = 0) -> Predictions:
        return predict_proba(self.classifier, self.vectorizer.transform(list(texts)),
                             task.num_labels)

    def footprint(self) -> Footprint:
        weights = self.classifier.coef_.size + self.classifier.intercept_.size
        return Footprint(trainable_params=weights, total_params=weights,
                         extra={"vocabulary_size": len(self.vectorizer.vocabulary_)})

    def export(self, folder: Path) -> None:
        save_sklearn(folder, vectorizer=self.vectorizer, classifier=self.classifier)
