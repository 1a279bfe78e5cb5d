"""Generation and scoring on vLLM: the `vllm` backend of the generation strategies.

The same token ids as the transformers generator (`GenerationPrompts`), run by an engine from
`strategies.vllm_scoring.open_engine`, with a LoRA adapter when given one:

    engine = open_engine(path, seed=0, max_lora_rank=16)          # prefix caching on
    generator = VllmGenerator(engine, tokenizer, task, lora_request=lora_request(adapter_dir))
    generator.generate(prompts, demonstrations)      # Generations(texts, tokens)
    generator.log_likelihood(passages)               # TextScores(nll, tokens)

Greedy decoding (task.temperature 0) gives the transformers backend's continuations, up to
float rounding where two tokens are nearly tied: 50 of 50 identical in
bench/vllm_generation_compare.py (float32, 32 tokens each). Sampled draws are seeded per
request (`sampling_seed(trial, row)`, row: the prompt's place in the call), so they are
reproducible and a prompt's draw does not depend on the other prompts of the call, nor on how
vLLM batches them; they are not transformers' draws (seeded per batch, another random stream),
so sampled continuations differ between backends.

Prefix caching: every prompt starts with the same context (chat template, instruction and any
demonstrations), so its key/value blocks are computed once and reused by the other requests of
the call and by later calls (the next trial); only whole blocks are shared, so the context's
last, partly filled block is recomputed for every prompt. What that saves, measured by
bench/vllm_generation_compare.py (SmolLM2-135M-Instruct, Shakespeare prompts; the CPU build's
blocks are 128 tokens): nothing zero-shot, whose context (37 tokens) fills no block; with
3 demonstrations (a 381-token context) 65% of the prompt tokens come from the cache, their
prefill skipped (on CUDA, with 16-token blocks, all but the last <16 context tokens would).
`prompt_tokens` and `cached_prompt_tokens` count it. Scoring (`log_likelihood`) asks for prompt
log-probabilities, which vLLM computes only for tokens it runs, so those requests skip the cache.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.api.strategy import Generations, TextScores
from harness.inputs.tasks import GenerationTask
from harness.metrics.lm_generation import GenerationPrompts


class VllmGenerator(GenerationPrompts):
    """Generation and scoring with a vLLM engine (the `vllm` backend)."""

    def __init__(self, engine, tokenizer, task: GenerationTask, use_chat_template: bool = True,
                 lora_request=None):
        super().__init__(tokenizer, task, use_chat_template)
        self.engine, self.lora_request = engine, lora_request
        # What generate() asked of the engine, and how much of it the prefix cache served.
        self.prompt_tokens = self.cached_prompt_tokens = 0

    def generate(self, prompts: Sequence[str], demonstrations: Sequence[str] = (),
                 trial: int = 0, max_new_tokens: int | None = None) -> Generations:
        """Continuations of each prompt; vLLM's scheduler forms the batches."""
        from vllm.inputs import TokensPrompt

        new = max_new_tokens or self.task.max_new_tokens
        requests = [TokensPrompt(prompt_token_ids=self.prompt_ids(p, demonstrations))
                    for p in prompts]
        params = [self._sampling(new, trial, row) for row in range(len(prompts))]
        outputs = self._run(requests, params)
        texts, counts = [], np.zeros(len(prompts), dtype=np.int64)
        for row, out in enumerate(outputs):
            generated = list(out.outputs[0].token_ids)
            if self.end_id in generated:  # the end token is returned; it is not text
                generated = generated[:generated.index(self.end_id)]
            texts.append(self.decode(generated))
            counts[row] = len(generated)
            self.prompt_tokens += len(out.prompt_token_ids)
            self.cached_prompt_tokens += out.num_cached_tokens or 0
        return Generations(texts, counts)

    def _sampling(self, max_tokens: int, trial: int, row: int):
        from vllm import SamplingParams

        # Stop at end_id and nothing else, as the transformers generator does: ignore_eos keeps
        # vLLM from adding the generation config's eos ids to the stop tokens.
        stop = {"max_tokens": max_tokens, "stop_token_ids": [self.end_id], "ignore_eos": True,
                "detokenize": False}
        if self.task.greedy:
            return SamplingParams(temperature=0.0, **stop)
        return SamplingParams(temperature=float(self.task.temperature),
                              top_p=float(self.task.top_p), top_k=0,
                              seed=self.sampling_seed(trial, row), **stop)

    def log_likelihood(self, texts: Sequence[str],
                       demonstrations: Sequence[str] = ()) -> TextScores:
        """Summed nll of each text's tokens after the context, from vLLM's prompt
        log-probabilities (the raw model's, whatever the sampling settings)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        sequences, first, tokens, scored = self.scored_sequences(texts, demonstrations)
        nll = np.zeros(len(texts))
        # prompt_logprobs=0: of each prompt position, the log-probability of the token actually
        # there (whether or not it is among the top ones), and no others.
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0,
                                detokenize=False)
        requests = [TokensPrompt(prompt_token_ids=sequences[i]) for i in scored]
        if self._serves_lora():
            # vLLM computes prompt log-probabilities through its LoRA logits layer with one
            # adapter index per request, not per token (vllm-project/vllm#29955, #16668): with
            # several requests in a step it fails, with one the index is broadcast over the
            # request's tokens, which is right. So one request at a time on a LoRA engine.
            outputs = [out for request in requests for out in self._run([request], params)]
        else:
            outputs = self._run(requests, params)
        for i, out in zip(scored, outputs):
            ids = sequences[i]
            nll[i] = -sum(out.prompt_logprobs[p][ids[p]].logprob for p in range(first, len(ids)))
        return TextScores(nll, tokens)

    def _serves_lora(self) -> bool:
        return self.engine.llm_engine.vllm_config.lora_config is not None

    def _run(self, requests, params):
        if not requests:
            return []
        return self.engine.generate(requests, params, use_tqdm=False,
                                    lora_request=self.lora_request)
