"""Published accuracies to hold a learning curve against, when the task and model match.

An anchor is a figure someone else measured with their own method on the same data and model:
it is drawn as a marker beside the curve, never mixed with measured rows. Each comes with where
it was read, so a reader can check it.

    anchors_for("agnews", "minilm-l6")
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    task: str
    models: tuple[str, ...]  # preset names and hub ids it applies to
    n_per_class: int
    n_train: int
    accuracy: float
    std: float  # spread over the training draws the source averaged
    method: str
    source: str


ANCHORS = (
    # Recomputed from the per-split results the SetFit authors published (10 draws of 8 rows
    # per label): mean 83.11, sample standard deviation 2.43 (population 2.31).
    Anchor("agnews", ("minilm-l6", "sentence-transformers/all-MiniLM-L6-v2"), 8, 32, 0.831,
           0.024, "SetFit (contrastive sentence-pair fine-tuning + logistic head), "
           "mean ± sd over 10 draws",
           "Tunstall et al. 2022, Efficient Few-Shot Learning Without Prompts; "
           "huggingface/setfit final_results/setfit/all-MiniLM-L6-v2"),
)


def anchors_for(task: str, model: str | None) -> list[Anchor]:
    """The anchors of this task whose model is `model` (a preset name or hub id)."""
    if not model:
        return []
    return [a for a in ANCHORS if a.task == task and model in a.models]
