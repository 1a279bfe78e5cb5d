"""Contract checks every strategy passes, and tiny random models to run them in seconds.
Plugin authors run the same checks on their own strategy, for every task kind it supports (each
kind's check is its Kind's `contract`, harness.inputs.kinds):

    from harness.api.testing import check_strategy, tiny_model_for
    def test_my_strategy(tmp_path):
        for kind in MyStrategy.task_kinds:
            model = tiny_model_for(model_kind_for(MyStrategy, kind), tmp_path)
            check_strategy(MyStrategy, model, tmp_path, task_kind=kind)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.inputs.data import Split
from harness.inputs.models import PRESETS, ModelSpec, resolve_model
from harness.api.strategy import (NO_TRAINING_ROWS, Context, adopt_later_declarations,
                                  declaration_problems, make_config)
from harness.api.variants import VariantUnavailable
from harness.environment import seed_everything
from harness.inputs.kinds import UNNAMED, kind_named, kind_of
from harness.inputs.tasks import GenerationTask, Task

TINY_TASK = Task(name="tiny", labels=("animal", "vehicle", "food"),
                 label_words=("animal", "vehicle", "food"),
                 prompt_template="Topic of: {text}\nChoices: {choices}.", hub_id="none/none")
_WORDS = {0: ["cat", "dog", "horse", "cow"], 1: ["car", "bus", "truck", "train"],
          2: ["bread", "apple", "rice", "soup"]}
TINY_GENERATION_TASK = GenerationTask(name="tiny-style", instruction="Write like a farmer.",
                                      prompt_words=4, max_new_tokens=6, hub_id=None)


def tiny_split(n: int, seed: int = 0) -> Split:
    """Short synthetic sentences with a learnable topic per label."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    texts = tuple(f"the {rng.choice(_WORDS[int(y)])} and the {rng.choice(_WORDS[int(y)])} "
                  f"were seen today" for y in labels)
    return Split(texts, labels.astype(np.int64))


def build_tiny_encoder(folder: Path, tokenizer_from: str | None = None) -> Path:
    """A 2-layer BERT with random weights and the MiniLM tokenizer, saved as an HF folder."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_from or resolve_model("minilm-l6").source)
    # 64 wide, not less: bitsandbytes' 4-bit CPU kernels need layers of at least one 64-block.
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=128, max_position_embeddings=512)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def build_tiny_decoder(folder: Path, tokenizer_from: str | None = None, head_dim: int = 16) -> Path:
    """A 2-layer Llama with random weights and the SmolLM2 tokenizer (chat template included).
    vLLM's attention kernels need a head size such as 64; bitsandbytes' 4-bit CPU kernels
    (qlora) layers at least 64 wide, hence 4 heads of 16 by default."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    source = tokenizer_from or resolve_model("smollm2-135m-instruct").source
    if source.endswith(".gguf"):  # the tokenizer alone, without de-quantizing the weights
        tokenizer = AutoTokenizer.from_pretrained(str(Path(source).parent),
                                                  gguf_file=Path(source).name)
    else:
        tokenizer = AutoTokenizer.from_pretrained(source)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=4 * head_dim,
                         intermediate_size=8 * head_dim,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_model_for(kind: str | None, folder: Path) -> ModelSpec | None:
    if kind is None:
        return None
    builders = {"encoder": build_tiny_encoder, "decoder": build_tiny_decoder}
    if kind not in builders:
        raise ValueError(f"no tiny model for kind {kind!r}; expected one of {list(PRESETS)}")
    path = folder / f"tiny-{kind}"
    if not (path / "config.json").is_file():
        builders[kind](path)
    return ModelSpec(f"tiny-{kind}", str(path))


def run_strategy(strategy_cls, model: ModelSpec | None, work_dir: Path, seed: int = 0,
                 train: Split | None = None, texts=None, task=TINY_TASK,
                 strategy_models: dict | None = None, **overrides):
    """Build, fit, prepare and predict once (the first trial), as the runner would, without the
    measuring; a strategy that uses no training rows is fitted on none, as in the plan. On a
    generation task the first trial's continuations of `texts` (as prompts) come back: what
    the first method of the task's kind returns.
    `strategy_models`: the models of the strategies it runs (`runs_strategies`), by field."""
    seed_everything(seed)
    context = Context(task, model, seed, "cpu", work_dir, strategy_models=strategy_models or {})
    strategy = strategy_cls(make_config(strategy_cls, overrides), context)
    if train is None:
        train = tiny_split(24) if strategy_cls.uses_training_rows else NO_TRAINING_ROWS
    strategy.fit([(task, train)])
    strategy.prepare()
    texts = list(texts if texts is not None else tiny_split(9, 1).texts)
    return strategy, getattr(strategy, kind_of(task).methods[0])(texts, task, 0)


def check_strategy(strategy_cls, model: ModelSpec | None, work_dir: Path,
                   task_kind: str = UNNAMED, **overrides) -> None:
    """The contract: capabilities declared, then the task kind's own checks (`check_...`
    below for the built-in kinds)."""
    adopt_later_declarations(strategy_cls)  # as the registry does
    problems = declaration_problems(strategy_cls)
    assert not problems, f"{strategy_cls.__name__}: {'; '.join(problems)}"
    assert task_kind in strategy_cls.task_kinds, f"does not declare the {task_kind} kind"
    make_config(strategy_cls, {})  # every setting has a default
    kind_named(task_kind).part("contract")(strategy_cls, model, work_dir, overrides)


def check_classification(strategy_cls, model: ModelSpec | None, work_dir: Path,
                         overrides: dict) -> None:
    """Predictions well-formed for every trial, artifacts written where asked, same seed ->
    same predictions, and for another seed too when declared deterministic; one that declares
    it uses no training rows is fitted on none."""
    texts = list(tiny_split(9, 1).texts)
    strategy, first = run_strategy(strategy_cls, model, work_dir, texts=texts, **overrides)
    assert isinstance(strategy.trials, int) and strategy.trials >= 1, "trials must be >= 1"
    k = TINY_TASK.num_labels
    for trial in range(strategy.trials):
        run = first if trial == 0 else strategy.predict(texts, TINY_TASK, trial)
        assert np.asarray(run.labels).shape == (len(texts),)
        assert np.asarray(run.scores).shape == (len(texts), k)
        assert ((run.labels >= 0) & (run.labels < k)).all(), "a label outside the task's range"
        assert np.isfinite(run.scores).all(), "non-finite scores"
        assert (np.asarray(run.scores).argmax(axis=1) == run.labels).all(), \
            "labels must be the argmax of the scores"
    single = strategy.predict(texts[:1], TINY_TASK, 0)
    assert single.labels.shape == (1,), "predicting one example must work (latency is measured so)"
    footprint = strategy.footprint()
    assert 0 <= footprint.trainable_params <= footprint.total_params
    exported = _check_export(strategy, work_dir)
    _check_variants(strategy_cls, model, exported, texts, first, overrides)
    _same(first, run_strategy(strategy_cls, model, work_dir, texts=texts, **overrides)[1],
          "same seed must give the same predictions")
    # The plan runs a deterministic strategy for one seed only: were the declaration false, the
    # spread between seeds would be hidden.
    if strategy_cls.deterministic:
        _same(first, run_strategy(strategy_cls, model, work_dir, seed=1, texts=texts,
                                  **overrides)[1],
              "declares deterministic = True, but another seed changed its predictions")


def check_generation(strategy_cls, model, work_dir: Path, overrides: dict) -> None:
    """The same for continuations and passage likelihoods."""
    task = TINY_GENERATION_TASK
    prompts = [" ".join(text.split()[:4]) for text in tiny_split(5, 1).texts]
    strategy, first = run_strategy(strategy_cls, model, work_dir, texts=prompts, task=task,
                                   **overrides)
    assert isinstance(strategy.trials, int) and strategy.trials >= 1, "trials must be >= 1"
    for trial in range(strategy.trials):
        run = first if trial == 0 else strategy.generate(prompts, task, trial)
        assert len(run.texts) == len(prompts) and all(isinstance(t, str) for t in run.texts)
        tokens = np.asarray(run.tokens)
        assert tokens.shape == (len(prompts),), "one token count per prompt"
        assert ((tokens >= 0) & (tokens <= task.max_new_tokens)).all(), \
            "generated more tokens than the task's max_new_tokens"
        scores = strategy.log_likelihood(list(tiny_split(5, 2).texts), task, trial)
        assert np.shape(scores.nll) == (5,) and np.shape(scores.tokens) == (5,)
        assert np.isfinite(scores.nll).all() and (np.asarray(scores.nll) > 0).all(), \
            "a passage's negative log-likelihood must be finite and positive"
        assert (np.asarray(scores.tokens) > 0).all()
    one = strategy.generate(prompts[:1], task, 0, max_new_tokens=1)
    assert len(one.texts) == 1 and int(one.tokens[0]) <= 1, \
        "generating for one prompt, and max_new_tokens, must work (latency is measured so)"
    footprint = strategy.footprint()
    assert 0 <= footprint.trainable_params <= footprint.total_params
    _check_export(strategy, work_dir)
    again = run_strategy(strategy_cls, model, work_dir, texts=prompts, task=task, **overrides)
    assert again[1].texts == first.texts, "same seed must give the same continuations"
    if strategy_cls.deterministic:
        other = run_strategy(strategy_cls, model, work_dir, seed=1, texts=prompts, task=task,
                             **overrides)
        assert other[1].texts == first.texts, \
            "declares deterministic = True, but another seed changed its continuations"


def _same(first, again, message: str) -> None:
    assert (again.labels == first.labels).all(), message
    np.testing.assert_allclose(again.scores, first.scores, rtol=1e-4, atol=1e-5,
                               err_msg=message)


def _check_export(strategy, work_dir: Path) -> Path:
    """`export` writes into the folder it is given, and nowhere else in the scratch space."""
    folder = work_dir / "contract-export"
    folder.mkdir(parents=True, exist_ok=True)
    before = {p for p in work_dir.rglob("*") if not p.is_relative_to(folder)}
    strategy.export(folder)
    after = {p for p in work_dir.rglob("*") if not p.is_relative_to(folder)}
    assert after == before, f"export wrote outside its folder: {sorted(after - before)[:3]}"
    return folder


def _check_variants(strategy_cls, model, exported: Path, texts: list, first,
                    overrides: dict) -> None:
    """Every declared inference variant loads from the export and predicts well-formed labels,
    or says why this device cannot run it; fp32 and merged are the fitted model itself."""
    for variant in strategy_cls.inference_variants:
        context = Context(TINY_TASK, model, 0, "cpu", exported.parent / f"variant-{variant}")
        context.work_dir.mkdir(exist_ok=True)
        try:
            loaded = strategy_cls.load_inference(make_config(strategy_cls, overrides), context,
                                                 exported, variant)
        except VariantUnavailable:
            continue
        loaded.prepare()
        run = loaded.predict(texts, TINY_TASK, 0)
        assert np.asarray(run.scores).shape == (len(texts), TINY_TASK.num_labels), variant
        assert (np.asarray(run.scores).argmax(axis=1) == run.labels).all(), variant
        if variant in ("fp32", "merged"):
            clear = _clear_rows(first.scores)
            assert (run.labels == first.labels)[clear].all(), \
                f"the {variant} variant must predict as the fitted model does"


def _clear_rows(scores) -> np.ndarray:
    """Rows whose best label leads the next by more than float rounding: a merged or reloaded
    model may flip a near-tie of a tiny random model (margins of 2e-4 were seen), not a choice."""
    scores = np.asarray(scores, dtype=np.float64)
    top = np.sort(scores, axis=1)[:, -2:]
    return (top[:, 1] - top[:, 0]) > 1e-3 * max(1.0, float(np.abs(scores).max()))
