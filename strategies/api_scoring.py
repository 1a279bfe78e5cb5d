"""Label scoring through an OpenAI-compatible endpoint: the `api` backend of the prompting
strategies (harness.api.endpoint says which modes there are and what each reads).

The prompts are the local strategies' own (`LabelPrompts`: the same chat template, system
prompt, demonstrations and label words, from the model's tokenizer). In `logprobs` mode each
prompt is sent as token ids followed by one label word's ids, echoed with log-probabilities,
and the label's tokens after the prompt are summed: log P(label | prompt), as the hf and vllm
backends compute it, so calibration and PMI apply alike. In `generate` mode the same chat turns
are sent as messages, the model answers at temperature 0, and the first label word in its
answer is the prediction (score 0 for it, -inf-like below for the rest); an answer naming none
is a parse failure, counted, scored flat (so the first label is predicted), and reported.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from strategies.api_client import EndpointClient, EndpointError, Usage
from strategies.label_scoring import LabelPrompts

# The score of a label the answer did not name: far below 0, finite (the runner refuses
# infinite scores), so softmax gives the named label all the probability.
NOT_NAMED = -30.0
EXTRA_ANSWER_TOKENS = 8  # generate mode: room for "The answer is ..." before the word


class ApiLabelScorer(LabelPrompts):
    def __init__(self, client: EndpointClient, tokenizer, label_words: Sequence[str],
                 use_chat_template=True, system_prompt: str | None = None):
        super().__init__(tokenizer, label_words, use_chat_template, system_prompt)
        self.client, self.words = client, list(label_words)
        self.mode = client.endpoint.mode
        self.rows = 0  # rows scored, to price a prediction by its tokens
        self.parse_failures = 0
        self._messages: dict[str, list[dict]] = {}
        self._patterns = [re.compile(rf"(?<![\w]){re.escape(w)}(?![\w])", re.IGNORECASE)
                          for w in self.words]

    @property
    def log_probabilities(self) -> bool:
        return self.mode != "generate"

    def render(self, user_text: str, demonstrations: Sequence[tuple[str, str]] = ()) -> str:
        """The prompt as the local backends render it; its chat turns are kept for generate
        mode, which sends them as messages."""
        rendered = super().render(user_text, demonstrations)
        self._messages[rendered] = self.messages(user_text, demonstrations)
        return rendered

    def resolve_mode(self, prompt: str) -> str:
        """`auto`: logprobs if the endpoint echoes prompt log-probabilities for this prompt,
        else generate. Decided once, before any prediction."""
        if self.mode == "auto":
            try:
                self._logprob_scores([prompt])
                self.mode = "logprobs"
            except EndpointError:
                self.mode = "generate"
            self.client.usage = Usage()  # the probe is no prediction's cost
        return self.mode

    def score(self, prompts: Sequence[str], progress: bool = False) -> np.ndarray:
        """(n, num_labels) scores of rendered prompts: log P(label | prompt), or in generate
        mode 0 for the label the answer names and NOT_NAMED for the others."""
        if self.mode == "auto":
            self.resolve_mode(prompts[0])
        self.rows += len(prompts)
        if self.mode == "logprobs":
            return self._logprob_scores(prompts)
        return self._generated_scores(prompts)

    def usage(self) -> dict:
        """The record's api fields: mode, requests, tokens per scored row, parse failures."""
        usage = self.client.usage.fields()
        rows = max(self.rows, 1)
        return {"api_mode": self.mode, **usage, "api_rows": self.rows,
                "api_prompt_tokens_per_row": usage["api_prompt_tokens"] / rows,
                "api_completion_tokens_per_row": usage["api_completion_tokens"] / rows,
                "api_parse_failures": self.parse_failures if self.mode == "generate" else None}

    def _logprob_scores(self, prompts: Sequence[str]) -> np.ndarray:
        bodies = []
        for prompt in prompts:
            ids = self.prompt_ids(prompt)
            bodies.append({"prompt": [ids + label for label in self.label_ids], "max_tokens": 0,
                           "echo": True, "logprobs": 0, "temperature": 0.0})
        scores = np.zeros((len(prompts), len(self.label_ids)))
        for i, response in enumerate(self.client.post_many("/completions", bodies)):
            choices = sorted(response.get("choices") or [], key=lambda c: c.get("index", 0))
            if len(choices) != len(self.label_ids):
                raise EndpointError(f"the endpoint answered {len(choices)} choices for "
                                    f"{len(self.label_ids)} echoed prompts")
            for k, (choice, label) in enumerate(zip(choices, self.label_ids)):
                read = ((choice.get("logprobs") or {}).get("token_logprobs") or [])
                # The echoed prompt, then any generated token: the label ends the prompt
                total = len(bodies[i]["prompt"][k])
                label_logprobs = read[total - len(label):total]
                if len(read) < total or any(not isinstance(v, (int, float))
                                            for v in label_logprobs):
                    raise EndpointError("the endpoint gave no prompt log-probabilities (echo "
                                        "with logprobs); use --api-mode generate")
                scores[i, k] = float(sum(label_logprobs))
        return scores

    def _generated_scores(self, prompts: Sequence[str]) -> np.ndarray:
        longest = max(len(ids) for ids in self.label_ids)
        bodies = [{"messages": self._messages[prompt], "temperature": 0.0,
                   "max_tokens": longest + EXTRA_ANSWER_TOKENS} for prompt in prompts]
        scores = np.zeros((len(prompts), len(self.words)))
        for i, response in enumerate(self.client.post_many("/chat/completions", bodies)):
            choices = response.get("choices") or [{}]
            answer = ((choices[0].get("message") or {}).get("content") or "")
            named = self.parse(answer)
            if named is None:
                self.parse_failures += 1
            else:
                scores[i] = NOT_NAMED
                scores[i, named] = 0.0
        return scores

    def parse(self, answer: str) -> int | None:
        """The label whose word the answer names first (whole words, any case); None when it
        names none."""
        found = [(match.start(), -len(self.words[k]), k) for k, pattern in
                 enumerate(self._patterns) if (match := pattern.search(answer))]
        return min(found)[2] if found else None
