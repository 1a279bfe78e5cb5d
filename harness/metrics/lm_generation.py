"""Writing continuations with a decoder, and scoring passages with it, for generation tasks:
the generators of the decoder strategies (strategies/generation.py serves them to the trials),
and of the runner's own base-model writing (harness.metrics.hard_negatives).

Every decoder strategy conditions its model the same way, so that their perplexities and
continuations compare: the task's instruction as the user turn of the chat template (plain
text when the tokenizer has none), optional demonstration passages as earlier answers
(few-shot), then the assistant's answer, which is the passage. A continuation is generated
after the passage's first words; a passage's likelihood is that of its tokens (tokenized alone,
so every strategy of a model counts the same tokens) after the context.

    generator = HfGenerator(model, tokenizer, task)
    generator.generate(["O! but one word."])              # Generations(texts, tokens)
    generator.log_likelihood(["O! but one word. ..."])     # TextScores(nll, tokens)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.api.batching import length_batches
from harness.metrics.lm_scoring import causal_nll, instruction_context_ids
from harness.api.strategy import Generations, TextScores
from harness.inputs.tasks import GenerationTask


class GenerationPrompts:
    """Token ids of contexts, prompts and training examples; shared by every backend."""

    def __init__(self, tokenizer, task: GenerationTask, use_chat_template: bool = True):
        self.tokenizer, self.task = tokenizer, task
        self.chat = use_chat_template and tokenizer.chat_template is not None
        self._contexts: dict[tuple[str, ...], list[int]] = {}

    def context_ids(self, demonstrations: Sequence[str] = ()) -> list[int]:
        """The instruction (and demonstration passages as earlier answers), up to where the
        passage starts."""
        key = tuple(demonstrations)
        if key not in self._contexts:
            self._contexts[key] = instruction_context_ids(self.tokenizer, self.task.instruction,
                                                          demonstrations, self.chat)
        return self._contexts[key]

    def text_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def scored_sequences(self, texts: Sequence[str], demonstrations: Sequence[str] = ()
                         ) -> tuple[list[list[int]], int, np.ndarray, list[int]]:
        """(context + text ids of each text, the first scored position, the tokens scored of
        each, the texts with any) for a backend that reads prompt log-probabilities. As
        causal_nll: a text with no context starts at its second token (its first has nothing
        to be predicted from); a text without tokens scores 0 over 0."""
        context = self.context_ids(demonstrations)
        sequences = [context + self.text_ids(text.strip()) for text in texts]
        first = max(len(context), 1)
        tokens = np.array([max(len(ids) - first, 0) for ids in sequences], dtype=np.int64)
        return sequences, first, tokens, [i for i in range(len(texts)) if tokens[i] > 0]

    def prompt_ids(self, prompt: str, demonstrations: Sequence[str] = ()) -> list[int]:
        return self.context_ids(demonstrations) + self.text_ids(prompt)

    @property
    def end_id(self) -> int:
        """What ends a passage: end of the assistant turn (the chat template's eos)."""
        return self.tokenizer.eos_token_id

    def training_example(self, text: str, max_tokens: int, from_word: bool = False) -> dict:
        """input_ids and labels of one passage after the context, ended by `end_id`; the loss
        covers the whole passage, or with `from_word` what follows the task's prompt words
        (instruction tuning: the model learns to continue a prompt)."""
        context = self.context_ids()
        text = text.strip()
        if from_word:
            prompt, _ = self.task.split_prompt(text)
            given, target = self.text_ids(prompt), self.text_ids(text[len(prompt):])
        else:
            given, target = [], self.text_ids(text)
        # The example is cut to max_tokens, context included; at least one target token stays.
        target = (target + [self.end_id])[:max(1, max_tokens - len(context) - len(given))]
        return {"input_ids": context + given + target,
                "labels": [-100] * (len(context) + len(given)) + target}

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True).strip()

    def sampling_seed(self, trial: int, batch: int) -> int:
        """The task's generation seed, never the cell's (a strategy's continuations depend on
        what it learnt); one per trial and batch, so that a batch's draws do not depend on the
        batches before it."""
        return int(np.random.SeedSequence([self.task.generation_seed, trial, batch])
                   .generate_state(1)[0])


class HfGenerator(GenerationPrompts):
    """Generation and scoring with a transformers model (the `hf` backend)."""

    def __init__(self, model, tokenizer, task: GenerationTask, use_chat_template: bool = True,
                 max_batch_tokens: int | None = None, max_batch_size: int = 32):
        super().__init__(tokenizer, task, use_chat_template)
        self.model = model
        self.max_batch_tokens = max_batch_tokens or (
            65536 if model.device.type == "cuda" else 8192)
        self.max_batch_size = max_batch_size
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
            else self.end_id

    def generate(self, prompts: Sequence[str], demonstrations: Sequence[str] = (),
                 trial: int = 0, max_new_tokens: int | None = None) -> Generations:
        """Continuations of each prompt, in batches of similar length (left padded)."""
        encoded = [self.prompt_ids(p, demonstrations) for p in prompts]
        return self.generate_ids(encoded, trial, max_new_tokens)

    def generate_ids(self, encoded: Sequence[list[int]], trial: int = 0,
                     max_new_tokens: int | None = None) -> Generations:
        """Continuations of prompts given as token ids, each with its own context (a request
        that differs per row, such as "rewrite this passage")."""
        import torch

        new = max_new_tokens or self.task.max_new_tokens
        texts, counts = [""] * len(encoded), np.zeros(len(encoded), dtype=np.int64)
        batches = length_batches([len(ids) + new for ids in encoded], self.max_batch_tokens,
                                 self.max_batch_size)
        for number, batch in enumerate(batches):
            width = max(len(encoded[i]) for i in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
                mask[row, width - len(encoded[i]):] = 1
            torch.manual_seed(self.sampling_seed(trial, number))
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=ids.to(self.model.device), attention_mask=mask.to(self.model.device),
                    max_new_tokens=new, min_new_tokens=0, pad_token_id=self.pad_id,
                    eos_token_id=self.end_id, **self._sampling())
            for row, i in enumerate(batch):
                generated = out[row, width:].tolist()
                if self.end_id in generated:
                    generated = generated[:generated.index(self.end_id)]
                texts[i], counts[i] = self.decode(generated), len(generated)
        return Generations(texts, counts)

    def _sampling(self) -> dict:
        if self.task.greedy:  # top_k/top_p/temperature unset: no warning about unused ones
            return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        return {"do_sample": True, "temperature": float(self.task.temperature),
                "top_p": float(self.task.top_p), "top_k": 0}

    def log_likelihood(self, texts: Sequence[str],
                       demonstrations: Sequence[str] = ()) -> TextScores:
        context = self.context_ids(demonstrations)
        pairs = [(context, self.text_ids(text.strip())) for text in texts]
        nll, tokens = causal_nll(self.model, pairs, self.pad_id)
        return TextScores(nll, tokens)
