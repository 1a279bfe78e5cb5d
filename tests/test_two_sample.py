"""The classifier two-sample test: about 0.5 between two halves of real held-out text (it cannot
tell them apart), near 1 between real text and modern prose (the floor of a strategy), length
no clue, and too few pairs no number."""

import math

import pandas as pd
import pytest

from harness.metrics.two_sample import same_length, two_sample


@pytest.fixture(scope="module")
def texts(data_dir):
    folder = data_dir / "shakespeare"
    test = pd.read_csv(folder / "test.csv")["text"].tolist()
    fit = pd.read_csv(folder / "validation.csv")["text"].tolist()
    modern = pd.read_csv(folder / "contrast.csv")["text"].tolist()
    return test, fit, modern


def test_two_halves_of_real_text_cannot_be_told_apart(texts):
    test, fit, _ = texts
    real = [t for t in test if len(t.split()) >= 30][:240]
    result = two_sample(real[:120], real[120:], fit_text=fit)
    assert result.n == 120
    # Chance, give or take: out-of-fold accuracy on indistinguishable samples scatters around
    # 0.5 (below it too: each fold's model learns noise that the held-out half contradicts)
    assert abs(result.accuracy - 0.5) < 0.1, result


def test_real_text_against_modern_prose_is_told_apart(texts):
    test, fit, modern = texts
    real = [t for t in test if len(t.split()) >= 30][:120]
    result = two_sample(real, modern[:120], fit_text=fit)
    assert result.accuracy > 0.9 and result.low > 0.8, result


def test_length_is_no_clue_and_empty_pairs_are_left_out():
    assert same_length(["a b c d", "x y"], ["e f", ""]) == (["a b", ""], ["e f", ""])
    few = two_sample(["a b c"] * 3 + [""], ["d e f"] * 4, fit_text=["a b c d e f"] * 5)
    assert few.n == 3 and math.isnan(few.accuracy)
