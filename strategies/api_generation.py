"""Generation and scoring through an OpenAI-compatible endpoint: the `api` backend of the
prompting strategies on a generation task.

The same token ids as the transformers and vLLM generators (`GenerationPrompts`: the task's
instruction as the chat turn, any demonstrations, the passage's first words), sent to
`/completions` as token-id prompts, which vLLM's and llama.cpp's servers take:

    generator = ApiGenerator(open_client(endpoint), tokenizer, task)
    generator.generate(prompts, demonstrations)      # Generations(texts, tokens from usage)
    generator.log_likelihood(passages)               # TextScores: the echoed prompt's log-probs

Sampled draws are seeded per request (`sampling_seed(trial, row)`, sent as `seed`), as the vllm
backend seeds them; the endpoint stops at its own end-of-text token. A passage's likelihood is
its tokens' log-probabilities after the context, echoed (`echo`, `logprobs: 0`, `max_tokens:
0`), the same numbers as in process.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.api.strategy import Generations, TextScores
from harness.inputs.tasks import GenerationTask
from strategies.api_client import EndpointClient, EndpointError
from harness.metrics.lm_generation import GenerationPrompts


class ApiGenerator(GenerationPrompts):
    def __init__(self, client: EndpointClient, tokenizer, task: GenerationTask,
                 use_chat_template: bool = True):
        super().__init__(tokenizer, task, use_chat_template)
        self.client = client
        # Continuations written and their tokens, to price one as served (the passages'
        # scoring, which only an evaluation asks for, is left out)
        self.rows = self.prompt_tokens = self.completion_tokens = 0

    def generate(self, prompts: Sequence[str], demonstrations: Sequence[str] = (),
                 trial: int = 0, max_new_tokens: int | None = None) -> Generations:
        new = max_new_tokens or self.task.max_new_tokens
        bodies = [{"prompt": self.prompt_ids(p, demonstrations), "max_tokens": new,
                   **self._sampling(trial, row)} for row, p in enumerate(prompts)]
        texts, counts = [], np.zeros(len(prompts), dtype=np.int64)
        for row, response in enumerate(self.client.post_many("/completions", bodies)):
            choice = (response.get("choices") or [{}])[0]
            texts.append(str(choice.get("text") or "").strip())
            usage = response.get("usage") or {}
            counts[row] = int(usage.get("completion_tokens") or 0)
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.completion_tokens += counts[row]
        self.rows += len(prompts)
        return Generations(texts, counts)

    def _sampling(self, trial: int, row: int) -> dict:
        if self.task.greedy:
            return {"temperature": 0.0}
        return {"temperature": float(self.task.temperature), "top_p": float(self.task.top_p),
                "seed": self.sampling_seed(trial, row)}

    def log_likelihood(self, texts: Sequence[str],
                       demonstrations: Sequence[str] = ()) -> TextScores:
        """Summed nll of each text's tokens after the context, from the echoed prompt's
        log-probabilities (as causal_nll counts them: a text with no context starts at its
        second token; one without tokens scores 0 over 0)."""
        sequences, first, tokens, scored = self.scored_sequences(texts, demonstrations)
        nll = np.zeros(len(texts))
        bodies = [{"prompt": sequences[i], "max_tokens": 0, "echo": True, "logprobs": 0,
                   "temperature": 0.0} for i in scored]
        for i, response in zip(scored, self.client.post_many("/completions", bodies)):
            read = ((response.get("choices") or [{}])[0].get("logprobs") or {}).get(
                "token_logprobs") or []
            values = read[first:len(sequences[i])]
            if len(values) != tokens[i] or any(not isinstance(v, (int, float)) for v in values):
                raise EndpointError("the endpoint gave no prompt log-probabilities (echo with "
                                    "logprobs): a generation task's perplexity needs them")
            nll[i] = -float(sum(values))
        return TextScores(nll, tokens)

    def usage(self) -> dict:
        """The record's api fields: requests (scoring included), and the tokens of writing a
        continuation, per continuation."""
        rows = max(self.rows, 1)
        return {"api_mode": "completions", **self.client.usage.fields(), "api_rows": self.rows,
                "api_prompt_tokens_per_row": self.prompt_tokens / rows,
                "api_completion_tokens_per_row": self.completion_tokens / rows}
