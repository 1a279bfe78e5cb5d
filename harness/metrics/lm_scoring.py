"""Negative log-likelihood of texts after contexts under a causal language model, exact for
every token and batched by length. Used by the generation strategies (held-out perplexity of
the evaluation passages, conditioned as each strategy conditions its model) and by the runner
(fluency: the continuations under the base model).

    nll, tokens = causal_nll(model, [(context_ids, text_ids), ...], pad_id=tokenizer.pad_token_id)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from harness.api.batching import length_batches


def instruction_context_ids(tokenizer, instruction: str, demonstrations: Sequence[str] = (),
                            use_chat_template: bool = True) -> list[int]:
    """Token ids of what a decoder reads before a passage of a generation task: the instruction
    as the chat template's user turn (demonstration passages as earlier answers), up to where
    the assistant's answer starts; plain text when the tokenizer has no chat template. What
    every decoder strategy conditions on (harness.metrics.lm_generation), and what the runner's
    fluency judge reads the continuations after."""
    if use_chat_template and tokenizer.chat_template is not None:
        messages = []
        for passage in demonstrations:
            messages += [{"role": "user", "content": instruction},
                         {"role": "assistant", "content": passage}]
        messages.append({"role": "user", "content": instruction})
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer(text, add_special_tokens=False).input_ids
    text = "".join(f"{instruction}\n\n{p}\n\n" for p in demonstrations)
    return tokenizer(f"{text}{instruction}\n\n").input_ids


def default_batch_tokens(device_type: str) -> int:
    # Cache-sized batches score fastest on CPU; a GPU needs big ones to be busy.
    return 16384 if device_type == "cuda" else 4096


def causal_nll(model, pairs: Sequence[tuple[list[int], list[int]]], pad_id: int | None = None,
               max_batch_tokens: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(nll, tokens) per pair: the summed negative log-likelihood (nats) of the text ids given
    the context ids before them, and the text's token count. Right padding, so every row's
    positions are those of an unpadded forward pass. A text without tokens scores 0 over 0."""
    import torch

    budget = max_batch_tokens or default_batch_tokens(model.device.type)
    nll = np.zeros(len(pairs))
    tokens = np.array([len(text) for _, text in pairs], dtype=np.int64)
    scored = [i for i in range(len(pairs)) if tokens[i] > 0]
    lengths = [len(pairs[i][0]) + len(pairs[i][1]) for i in scored]
    with torch.inference_mode():
        for batch in length_batches(lengths, budget):
            rows = [scored[j] for j in batch]
            sequences = [list(pairs[i][0]) + list(pairs[i][1]) for i in rows]
            width = max(map(len, sequences))
            ids = torch.full((len(rows), width), pad_id or 0, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, sequence in enumerate(sequences):
                ids[r, :len(sequence)] = torch.tensor(sequence)
                mask[r, :len(sequence)] = 1
            # Position p predicts token p + 1; a text with no context starts at its second
            # token (its first has nothing to be predicted from). Only the positions from the
            # earliest text onwards go through the vocabulary projection: a few-shot context
            # is most of the sequence, and its logits would be most of the memory.
            firsts = [max(len(pairs[i][0]), 1) for i in rows]
            keep = width - min(firsts) + 1
            logits = model(input_ids=ids.to(model.device),
                           attention_mask=mask.to(model.device), logits_to_keep=keep).logits
            log_probs = torch.log_softmax(logits.float(), dim=-1)
            offset = width - keep  # kept position k is sequence position offset + k
            for r, i in enumerate(rows):
                first, end = firsts[r], len(sequences[r])
                targets = ids[r, first:end].to(log_probs.device)
                picked = log_probs[r, first - 1 - offset:end - 1 - offset].gather(
                    1, targets[:, None])
                nll[i] = -float(picked.sum())
                tokens[i] = end - first
    return nll, tokens
