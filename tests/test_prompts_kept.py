"""A prompted strategy's predictions keep the exact text the model was given for each row and
trial (lm-eval's --log_samples): its chat template, demonstrations and the row's input."""

import pandas as pd

from test_cli import harness, tiny_args

from harness.results.store import Store


def test_each_rows_prompt_is_kept_beside_its_prediction(tiny_encoder, tiny_decoder, data_dir,
                                                        tmp_path):
    done = harness("run", "-s", "zero-shot,few-shot,tfidf-logreg", "-t", "agnews",
                   "-c", "few-shot.trials=2",
                   *tiny_args(tiny_encoder, tiny_decoder, data_dir, tmp_path))
    assert done.exit_code == 0, done.output
    store = Store(tmp_path / "results")
    frames = {r["strategy"]: store.predictions(r["key"]) for r in store.records()}
    zero, few = frames["zero-shot"], frames["few-shot"]
    assert "prompt" not in frames["tfidf-logreg"]  # no prompt, no column
    for frame in (zero, few):
        assert all(text[:40] in prompt for text, prompt in zip(frame["text"], frame["prompt"]))
    assert (few["prompt"].str.len() > zero["prompt"].str.len()).all()  # the demonstrations
    assert (few["prompt"] != few["prompt_trial1"]).all()  # each trial its own draw
    assert isinstance(few, pd.DataFrame) and "prompt_trial2" not in few
