"""few-shot's demonstration selectors (strategies/demonstrations.py): kNN finds the nearest
training rows and only those, orders them, scores and calibrates each row exactly after its own
demonstrations; the random selector draws exactly as before; bad settings are one line."""

import json

import numpy as np
import pytest

from harness.inputs.data import Split
from harness.errors import HarnessError
from harness.api.settings import build_config
from harness.api.strategy import Context
from harness.api.testing import (
    TINY_GENERATION_TASK,
    TINY_TASK,
    check_strategy,
    run_strategy,
    tiny_split,
)
from strategies.demonstrations import NearestRows, arrange, top_k
from strategies.few_shot import FewShot
from strategies.label_scoring import LabelScorer
from strategies.scoring import CONTENT_FREE_INPUTS

# Label 0 animals, 1 vehicles, 2 food: each evaluation text below has one obvious neighbour.
TRAIN = Split(("the cat sat on the mat", "a red bus in town", "fresh bread and soup",
               "the dog sat on the rug", "a fast train at night", "apple pie with rice"),
              np.array([0, 1, 2, 0, 1, 2]))
EVAL = ["a fast train at night", "the dog sat on a rug"]


def context(tmp_path, seed=0, task=TINY_TASK):
    return Context(task, None, seed, "cpu", tmp_path)


def test_knn_tfidf_finds_the_nearest_training_rows_and_orders_them(tmp_path):
    knn = NearestRows("knn-tfidf", "ascending", 2, context(tmp_path))
    knn.fit(TRAIN)
    nearest = knn.nearest(EVAL)
    # An evaluation text equal to a training text finds that row first (it is a training row).
    assert nearest[0, 0] == 4
    # "the dog sat on a rug" shares most words with row 3, then row 0.
    assert nearest[1].tolist() == [3, 0]
    assert knn.rows(EVAL[1:])[0] == [0, 3]  # ascending: the most similar last


def test_random_order_shuffles_the_same_neighbours_by_trial_and_text():
    nearest = np.array([5, 4, 3, 2, 1, 0])
    orders = {tuple(arrange(nearest, "random", 0, trial, "x")) for trial in range(6)}
    assert len(orders) > 1 and all(sorted(o) == list(range(6)) for o in orders)
    assert arrange(nearest, "random", 0, 1, "x") == arrange(nearest, "random", 0, 1, "x")


def test_top_k_breaks_ties_by_the_lower_row():
    assert top_k(np.array([0.5, 0.9, 0.5, 0.9, 0.1]), 3).tolist() == [1, 3, 0]


def test_knn_embed_ranks_by_cosine_of_the_encoder_embeddings(tiny_encoder, tmp_path):
    knn = NearestRows("knn-embed", "ascending", 3, context(tmp_path), tiny_encoder.source)
    knn.fit(TRAIN)
    vectors = knn.probe.embed(list(TRAIN.texts))
    queries = knn.probe.embed(EVAL)
    cosine = queries @ vectors.T / np.outer(np.linalg.norm(queries, axis=1),
                                            np.linalg.norm(vectors, axis=1))
    np.testing.assert_array_equal(knn.nearest(EVAL), np.argsort(-cosine, axis=1)[:, :3])


def test_knn_rows_are_scored_and_calibrated_exactly_after_their_own_demonstrations(
        tiny_decoder, tmp_path):
    strategy, got = run_strategy(FewShot, tiny_decoder, tmp_path, train=TRAIN, texts=EVAL,
                                 selector="knn-tfidf", order="ascending", trials=5,
                                 calibrate=True)
    assert strategy.trials == 1  # ascending kNN prompts do not depend on the seed
    demos = strategy.neighbours(EVAL)
    assert [d[-1][0] for d in demos] == [TINY_TASK.prompt(TRAIN.texts[i]) for i in (4, 3)]
    # A scorer without any prefix cache, one prompt at a time, as the reference.
    reference = LabelScorer(strategy.model, strategy.tokenizer, TINY_TASK.label_words,
                            reuse_prefix=False)
    for row, (text, own) in enumerate(zip(EVAL, demos)):
        def score(t, own=own):
            return reference.score([strategy._render(TINY_TASK.prompt(t), own)])[0]

        content_free = np.array([score(t) for t in CONTENT_FREE_INPUTS])
        probs = np.exp(content_free) / np.exp(content_free).sum(axis=1, keepdims=True)
        expected = score(text) - np.log(probs.mean(axis=0))
        np.testing.assert_allclose(got.scores[row], expected, atol=1e-4)
    # What ships: the settings, the training rows searched (never evaluation rows), the index.
    folder = tmp_path / "export"
    folder.mkdir()
    strategy.export(folder)
    pool = json.loads((folder / "demonstration_pool.json").read_text())
    assert pool["texts"] == list(TRAIN.texts)
    assert pool["labels"] == [TINY_TASK.label_words[y] for y in TRAIN.labels]
    settings = json.loads((folder / "selector.json").read_text())
    assert (settings["selector"], settings["order"], settings["k"]) == ("knn-tfidf",
                                                                         "ascending", 3)
    assert (folder / "vectorizer.joblib").is_file()


def test_calibration_is_on_for_random_draws_and_off_for_knn_unless_asked():
    assert build_config(FewShot, {}).calibrate is True
    assert build_config(FewShot, {"selector": "knn-tfidf"}).calibrate is False
    assert build_config(FewShot, {"selector": "knn-embed", "calibrate": "true"}).calibrate


def test_random_selector_draws_exactly_as_before(tiny_decoder, tmp_path):
    train = tiny_split(24)
    strategy, _ = run_strategy(FewShot, tiny_decoder, tmp_path, seed=3, train=train, trials=2,
                               k_per_class=2, calibrate=False)
    for trial, demos in enumerate(strategy.demonstrations):
        rng, chosen = np.random.default_rng([3, trial]), []
        for label in range(TINY_TASK.num_labels):
            chosen += rng.choice(np.flatnonzero(train.labels == label), 2, replace=False).tolist()
        rng.shuffle(chosen)
        assert [a for _, a in demos] == [TINY_TASK.label_words[train.labels[i]] for i in chosen]
        assert [q for q, _ in demos] == [TINY_TASK.prompt(train.texts[i]) for i in chosen]
    texts = list(tiny_split(3, 1).texts)
    prompts = [strategy._render(TINY_TASK.prompt(t), strategy.demonstrations[1]) for t in texts]
    reference = LabelScorer(strategy.model, strategy.tokenizer, TINY_TASK.label_words,
                            reuse_prefix=False)
    np.testing.assert_allclose(strategy.predict(texts, TINY_TASK, 1).scores,
                               reference.score(prompts), atol=1e-4)
    # Every row shares the trial's demonstrations: a prefix encoded once, in prepare().
    assert strategy.footprint().extra["prefix_cache_share"] > 0.5


def test_knn_embed_end_to_end_and_what_the_prefix_cache_saved(tiny_decoder, tiny_encoder,
                                                               tmp_path):
    settings = {"selector": "knn-embed", "embed_model": tiny_encoder.source}
    check_strategy(FewShot, tiny_decoder, tmp_path, order="ascending", **settings)
    strategy, _ = run_strategy(FewShot, tiny_decoder, tmp_path, trials=2, **settings)
    assert strategy.trials == 2  # random order: the neighbours shuffled per trial
    extra = strategy.footprint().extra
    assert extra["prompt_tokens"] > extra["prompt_tokens_run"] > 0
    # Rows share only the system prompt and the template's head, not their demonstrations.
    assert 0 < extra["prefix_cache_share"] < 0.5
    assert extra["embed_params"] > 0


@pytest.mark.parametrize(("overrides", "message"), [
    ({"selector": "knn"}, "few-shot.selector=knn: expected one of 'random', 'knn-tfidf'"),
    ({"order": "x"}, "few-shot.order=x: expected one of 'random', 'ascending'"),
    ({"order": "ascending"}, "few-shot.order=ascending: must be random with selector=random"),
    ({"selector": "knn-embed", "embed_model": "no-such-model"},
     "few-shot.embed_model=no-such-model: must be 'encoder' or a model \\(unknown model"),
])
def test_bad_selection_settings_are_one_line(overrides, message):
    with pytest.raises(HarnessError, match=message) as error:
        build_config(FewShot, overrides)
    assert "\n" not in str(error.value)


def test_a_knn_selector_on_a_generation_task_is_refused(tiny_decoder, tmp_path):
    with pytest.raises(HarnessError, match="on generation task 'tiny-style' use selector=random"):
        run_strategy(FewShot, tiny_decoder, tmp_path, task=TINY_GENERATION_TASK,
                     selector="knn-tfidf")
