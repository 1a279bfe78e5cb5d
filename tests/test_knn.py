"""knn: the nearest training rows' labels, nothing learnt."""

import numpy as np

from harness.api.testing import run_strategy, tiny_split
from strategies.knn import Knn


def test_a_training_row_is_its_own_nearest_neighbour(tiny_encoder, tmp_path):
    train = tiny_split(24)
    _, predicted = run_strategy(Knn, tiny_encoder, tmp_path, train=train,
                                texts=list(train.texts), k=1)
    assert (predicted.labels == train.labels).all()
    assert np.allclose(predicted.scores.sum(axis=1), 1) and set(np.unique(predicted.scores)) \
        <= {0.0, 1.0}


def test_the_vote_is_the_share_of_the_k_nearest_labels(tiny_encoder, tmp_path):
    train = tiny_split(24)
    strategy, predicted = run_strategy(Knn, tiny_encoder, tmp_path, train=train,
                                       k=5, weighted=False)
    query = strategy.embed(tiny_split(9, 1).texts)
    nearest = np.argsort(-(query @ strategy.index.T), axis=1, kind="stable")[:, :5]
    expected = np.stack([np.bincount(train.labels[row], minlength=predicted.scores.shape[1])
                         for row in nearest]) / 5
    assert np.allclose(predicted.scores, expected)
    assert strategy.footprint().trainable_params == 0


def test_neighbours_are_by_cosine_whatever_the_embeddings_lengths(tiny_encoder, tmp_path):
    train = tiny_split(24)
    unit, by_unit = run_strategy(Knn, tiny_encoder, tmp_path, train=train, k=5)
    raw, by_raw = run_strategy(Knn, tiny_encoder, tmp_path, train=train, k=5,
                               normalize=False)
    assert np.allclose(np.linalg.norm(raw.index, axis=1), 1)  # scaled once, in fit
    assert np.allclose(by_raw.scores, by_unit.scores, atol=1e-5)
