"""What the runner measures of a generation cell, the same way for every strategy: inside the
cell's process the speed of writing (time to first token, milliseconds per token, tokens/s), the
continuations of every trial, the held-out likelihood of the evaluation passages and, once the
strategy is gone, the fluency of the continuations under the base model and the base model's
own pastiche and paraphrases (the hard negatives of a style judge); in the parent, the judges'
verdicts, the two-sample test, MAUVE and the record's metrics (harness.metrics).

    outputs = generate_all(strategy, cell)            # in the cell's process, timed
    outputs.update(base_model_outputs(cell, outputs["continuations"]))
    record, frame = generation_record(record, cell, task, evaluation, outcome)

The generation Kind (harness.inputs.kinds) points the runner at `measure_generation` and
`generation_records`.
"""

from __future__ import annotations

import gc
import time

import numpy as np
import pandas as pd

from harness.cell.measure import latency_rows, stopwatch, sync_device
from harness.cell.phases import footprint_fields, shipped_bytes
from harness.inputs.models import DEFAULT_MODELS, resolve_model
from harness.inputs.tasks import primary_metric
from harness.metrics.lm_scoring import causal_nll, instruction_context_ids
from harness.metrics.text_features import embed

# Single-prompt generations are seconds each on a CPU: a few samples give the median, not a
# tail (the record says how many).
LATENCY_SAMPLES = 8
WARMUP_PROMPTS = 2
WARMUP_TOKENS = 4


def prompts_and_references(task, evaluation) -> tuple[list[str], list[str]]:
    pairs = [task.split_prompt(text) for text in evaluation.texts]
    return [p for p, _ in pairs], [r for _, r in pairs]


def generate_all(strategy, cell) -> dict:
    """Latency on single prompts first (no prefix of a measured prompt cached yet), then every
    trial's continuations (timed: predict_s) and passage likelihoods (timed: scoring_s)."""
    task, device = cell.task, cell.device
    prompts, _ = prompts_and_references(task, cell.eval)
    measured = latency_rows(len(prompts), cell.seed, LATENCY_SAMPLES)
    warmup = [task.split_prompt(t)[0] for t in cell.train.texts[:WARMUP_PROMPTS]] or \
        [prompts[i] for i in range(len(prompts)) if i not in measured][:WARMUP_PROMPTS] or \
        ["Good morrow"]
    for prompt in warmup:
        strategy.generate([prompt], task, 0, WARMUP_TOKENS)
    first_token, whole, per_token = [], [], []
    for i in measured:
        for limit, into in ((1, first_token), (None, whole)):
            sync_device(device)
            start = time.perf_counter()
            out = strategy.generate([prompts[i]], task, 0, limit)
            sync_device(device)
            into.append((time.perf_counter() - start) * 1000)
        per_token.append(whole[-1] / max(int(out.tokens[0]), 1))
    timings: dict = {}
    continuations, tokens, passage_nll, passage_tokens = [], [], [], []
    for trial in range(int(strategy.trials)):
        with stopwatch(timings, "predict_s", device):
            written = strategy.generate(prompts, task, trial)
        with stopwatch(timings, "scoring_s", device):
            scores = strategy.log_likelihood(list(cell.eval.texts), task, trial)
        _check(strategy.name, len(prompts), written, scores)
        continuations.append(list(written.texts))
        tokens.append(np.asarray(written.tokens, dtype=np.int64))
        passage_nll.append(np.asarray(scores.nll, dtype=np.float64))
        passage_tokens.append(np.asarray(scores.tokens, dtype=np.int64))
    return {**timings, "ttft_ms": float(np.median(first_token)),
            "latency_p50_ms": float(np.percentile(whole, 50)),
            "latency_p95_ms": float(np.percentile(whole, 95)),
            "ms_per_token": float(np.median(per_token)), "latency_samples": len(measured),
            "latency_warmup": len(warmup), "continuations": continuations,
            "generated_tokens": tokens, "passage_nll": passage_nll,
            "passage_tokens": passage_tokens}


def measure_generation(cell, strategy, timings: dict, artifact_bytes: int, memory) -> dict:
    """Writing and scoring, timed; then, with the strategy's model released, what the base
    model says of it (fluency) and writes for the style judge (its hard negatives): not the
    strategy's time or memory."""
    with memory.phase("predict"):
        outputs = generate_all(strategy, cell)
    footprint = footprint_fields(strategy)
    measured = {**timings, **footprint, "artifact_bytes": artifact_bytes,
                "disk_bytes": shipped_bytes(cell, footprint, artifact_bytes),
                "trials": int(strategy.trials)}
    del strategy
    gc.collect()
    return {**measured, **outputs, **base_model_outputs(cell, outputs["continuations"])}


def _check(strategy: str, n: int, written, scores) -> None:
    """A strategy's outputs must be one per row and finite: a wrong shape is the cell's error,
    named here rather than as an index error in the metrics."""
    shapes = (len(written.texts), np.shape(written.tokens), np.shape(scores.nll),
              np.shape(scores.tokens))
    if shapes != (n, (n,), (n,), (n,)):
        raise ValueError(f"strategy '{strategy}' returned {shapes[0]} continuations, tokens "
                         f"{shapes[1]}, nll {shapes[2]}, tokens scored {shapes[3]} for {n} rows")
    if not np.isfinite(scores.nll).all() or (np.asarray(scores.tokens) <= 0).any():
        raise ValueError(f"strategy '{strategy}' scored a passage with a non-finite "
                         f"likelihood or no tokens")


def base_model_outputs(cell, continuations: list[list[str]]) -> dict:
    """The base model of the cell, loaded once: the fluency of every trial's continuations,
    and its own pastiche and paraphrases for the hard-negative judge (harness.metrics.
    hard_negatives; cached, so written once per task and model)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.metrics.hard_negatives import write_negatives

    spec = cell.model or resolve_model(DEFAULT_MODELS["decoder"])
    path = spec.local_path()
    tokenizer = AutoTokenizer.from_pretrained(path, **spec.load_kwargs())
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto", **spec.load_kwargs())
    model = model.to(cell.device).eval()
    return {**fluency(cell, model, tokenizer, continuations),
            "hard_negatives": write_negatives(cell, model, tokenizer, spec)}


def fluency(cell, model, tokenizer, continuations: list[list[str]]) -> dict:
    """Token-weighted likelihood of each continuation under the base model of the cell, the
    same judge of fluency for every strategy of a model, in the context the continuation was
    written in: the task's instruction as the chat template's user turn, then the prompt (as
    every decoder strategy conditions its model, harness.metrics.lm_generation), not the bare
    prompt, where an instruction-following model reads the text as out of place."""
    prompts, _ = prompts_and_references(cell.task, cell.eval)
    instruction = instruction_context_ids(tokenizer, cell.task.instruction)
    contexts = [instruction + tokenizer(p, add_special_tokens=False).input_ids for p in prompts]
    nll, tokens = [], []
    for texts in continuations:
        pairs = [(context, tokenizer(" " + text, add_special_tokens=False).input_ids
                  if text else []) for context, text in zip(contexts, texts)]
        scored = causal_nll(model, pairs, tokenizer.pad_token_id or tokenizer.eos_token_id)
        nll.append(scored[0])
        tokens.append(scored[1])
    return {"fluency_nll": nll, "fluency_tokens": tokens}


def generation_records(cell, base: dict, outcome: dict) -> list[tuple]:
    """The one record of a generation cell (generation strategies train no mixtures)."""
    record = {**base, "key": cell.key, "task": cell.task.name,
              "primary_metric": primary_metric(cell.task), "fit_shared_by": 1}
    return [generation_record(record, cell, cell.task, cell.eval, outcome)]


def generation_record(record: dict, cell, task, evaluation, outcome: dict):
    """(record, predictions frame) of a generation cell, from the outputs of its process."""
    from harness.metrics.generation import generation_metrics
    from harness.metrics.style_judge import style_judge

    prompts, references = prompts_and_references(task, evaluation)
    continuations = outcome.pop("continuations")
    tokens = outcome.pop("generated_tokens")
    arrays = {name: outcome.pop(name) for name in
              ("passage_nll", "passage_tokens", "fluency_nll", "fluency_tokens")}
    judge = style_judge(task, cell.data_dir)
    style = [judge.probability(texts) for texts in continuations]
    record.update(outcome)
    record.update(generation_metrics(references, continuations, style_probability=style,
                                     **arrays))
    record.update(judge.summary())
    record.update(discriminating(task, cell.data_dir, references, continuations[0],
                                 outcome.pop("hard_negatives")))
    generated = int(sum(t.sum() for t in tokens))
    record.update({
        "task_kind": "generation", "trials": len(continuations),
        "n_predictions": len(prompts) * len(continuations),
        "generated_tokens_mean": generated / max(len(prompts) * len(continuations), 1),
        "tokens_per_s": generated / max(outcome["predict_s"], 1e-9),
        "throughput_eps": len(prompts) * len(continuations) / max(outcome["predict_s"], 1e-9)})
    frame = pd.DataFrame({"index": np.arange(len(prompts)), "text": list(evaluation.texts),
                          "prompt": prompts, "reference": references,
                          "prediction": continuations[0]})
    for t, other in enumerate(continuations[1:], start=1):
        frame[f"prediction_trial{t}"] = other
    frame["generated_tokens"] = tokens[0]
    frame["style_probability"] = style[0]
    for name, values in arrays.items():
        frame[name] = values[0]
    return record, frame


def discriminating(task, data_dir, references: list[str], written: list[str],
                   negatives: dict) -> dict:
    """Trial 0's continuations against the real ones of the same prompts, each pair cut to its
    shorter side's words: a classifier two-sample test (0.5: it cannot tell them apart), MAUVE
    (1: the same distribution, to the encoder) and the hard-negative judge (AUC 0.5: it cannot
    rank them apart)."""
    from harness.metrics.hard_negatives import hard_judge
    from harness.metrics.mauve_score import mauve_score
    from harness.metrics.style_judge import heldout_texts
    from harness.metrics.two_sample import kept_pairs, two_sample

    apart = two_sample(references, written, heldout_texts(task, data_dir), embed=embed)
    real, cut = kept_pairs(references, written)
    mauve, low, high = mauve_score(embed(real), embed(cut))
    judge = hard_judge(negatives)
    return {"two_sample_accuracy": apart.accuracy, "two_sample_accuracy_ci_low": apart.low,
            "two_sample_accuracy_ci_high": apart.high, "two_sample_pairs": apart.n,
            "mauve": mauve, "mauve_ci_low": low, "mauve_ci_high": high,
            **judge.summary(), **judge.compare(references, written)}
