"""The shared scoring configuration: mean, PMI and contextual calibration give exactly the
arithmetic of strategies/scoring.py, on the scorer and through the prompting strategies."""

import numpy as np
import pytest

from harness.api.testing import TINY_TASK, run_strategy, tiny_split
from strategies.few_shot import FewShot
from strategies.label_scoring import LabelScorer
from strategies.scoring import (CONTENT_FREE_INPUTS, ScoreAdjustment, ScoringSettings,
                                calibration_bias, final_scores)
from strategies.zero_shot import ZeroShot

RAW = np.log(np.array([[0.5, 0.2, 0.1], [0.05, 0.4, 0.3]]))


def softmax(rows):
    rows = np.exp(rows - rows.max(axis=1, keepdims=True))
    return rows / rows.sum(axis=1, keepdims=True)


def test_sum_mean_and_pmi():
    lengths = [1, 2, 4]
    np.testing.assert_array_equal(final_scores(RAW, "sum", lengths), RAW)
    np.testing.assert_allclose(final_scores(RAW, "mean", lengths), RAW / np.array(lengths))
    premise = np.log([0.6, 0.1, 0.05])
    np.testing.assert_allclose(final_scores(RAW, "pmi", lengths, premise=premise), RAW - premise)


def test_calibration_subtracts_the_log_of_averaged_content_free_probabilities():
    content_free = np.log(np.array([[0.7, 0.2, 0.1], [0.5, 0.3, 0.1], [0.9, 0.05, 0.05]]))
    bias = calibration_bias(content_free)
    expected = np.log(softmax(content_free).mean(axis=0))
    np.testing.assert_allclose(bias, expected)
    calibrated = final_scores(RAW, "sum", [1, 1, 1], bias=bias)
    np.testing.assert_allclose(calibrated, RAW - expected)
    # The label the content-free inputs favour loses its head start: row 0 moves off label 0.
    assert RAW[0].argmax() == 0 and calibrated[0].argmax() != 0
    # softmax(calibrated) is p / p_cf renormalised, as in Zhao et al. (2021).
    ratio = softmax(RAW) / softmax(content_free).mean(axis=0)
    np.testing.assert_allclose(softmax(calibrated), ratio / ratio.sum(axis=1, keepdims=True))


def test_an_unknown_scoring_or_a_missing_premise_is_refused():
    with pytest.raises(ValueError, match="scoring must be one of sum, mean, pmi"):
        final_scores(RAW, "median", [1, 1, 1])
    with pytest.raises(ValueError, match="premise"):
        final_scores(RAW, "pmi", [1, 1, 1])


@pytest.fixture(scope="module")
def scorer(tiny_decoder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_decoder.source).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_decoder.source)
    # Multi-token label words, so that mean differs from sum.
    return LabelScorer(model, tokenizer, ["yes", "photosynthesis", "Sci/Tech"])


def one_by_one(scorer, prompts):
    return np.vstack([scorer.score([p]) for p in prompts])


@pytest.mark.parametrize("scoring", ["sum", "mean", "pmi"])
@pytest.mark.parametrize("calibrate", [False, True])
def test_adjustment_on_a_tiny_decoder(scorer, scoring, calibrate):
    def prompt_for(text):
        return scorer.render(f"Topic of: {text}")

    adjust = ScoreAdjustment(ScoringSettings(scoring=scoring, calibrate=calibrate), scorer,
                             prompt_for)
    raw = scorer.score([prompt_for(t) for t in ("a cat", "the bus was late")])
    lengths = np.array([len(ids) for ids in scorer.label_ids])
    assert lengths.max() > 1
    premise = one_by_one(scorer, [prompt_for("")])[0]
    by_scoring = {"sum": lambda s: s, "mean": lambda s: s / lengths,
                  "pmi": lambda s: s - premise}[scoring]
    expected = by_scoring(raw)
    if calibrate:
        content_free = by_scoring(one_by_one(scorer, [prompt_for(t) for t in CONTENT_FREE_INPUTS]))
        expected = expected - np.log(softmax(content_free).mean(axis=0))
    np.testing.assert_allclose(adjust(raw), expected, atol=1e-4)


def test_zero_shot_scores_its_premise_and_content_free_inputs_in_its_own_prompt(
        tiny_decoder, tmp_path):
    texts = list(tiny_split(6, 1).texts)
    strategy, got = run_strategy(ZeroShot, tiny_decoder, tmp_path, texts=texts,
                                 scoring="pmi", calibrate=True)
    scorer = strategy.scorer

    def prompt_for(text):
        return scorer.render(TINY_TASK.prompt(text))

    premise = one_by_one(scorer, [prompt_for("")])[0]
    content_free = one_by_one(scorer, [prompt_for(t) for t in CONTENT_FREE_INPUTS]) - premise
    raw = one_by_one(scorer, [prompt_for(t) for t in texts])
    expected = raw - premise - np.log(softmax(content_free).mean(axis=0))
    np.testing.assert_allclose(got.scores, expected, atol=1e-4)
    assert (got.labels == expected.argmax(axis=1)).all()


def test_few_shot_calibrates_each_trial_with_its_own_demonstrations(tiny_decoder, tmp_path):
    texts = list(tiny_split(4, 1).texts)
    strategy, _ = run_strategy(FewShot, tiny_decoder, tmp_path, texts=texts, trials=2,
                               calibrate=True)
    scorer = strategy.scorer
    for trial in (0, 1):
        def prompt_for(text, demos=strategy.demonstrations[trial]):
            return strategy._render(TINY_TASK.prompt(text), demos)

        content_free = one_by_one(scorer, [prompt_for(t) for t in CONTENT_FREE_INPUTS])
        expected = (one_by_one(scorer, [prompt_for(t) for t in texts])
                    - np.log(softmax(content_free).mean(axis=0)))
        got = strategy.predict(texts, TINY_TASK, trial).scores
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert strategy.demonstrations[0] != strategy.demonstrations[1]
