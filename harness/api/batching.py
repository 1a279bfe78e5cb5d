"""Batches of similar length, for every batched forward pass (strategies and the runner)."""

from __future__ import annotations


def length_batches(lengths, max_batch_tokens: int, max_batch_size: int = 256):
    """Index batches of similar length (longest first), each within a padded-token budget.

    Sorting by length keeps padding small; longest first makes an out-of-memory error show up on
    the first batch instead of the last.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for i in order:
        width = lengths[batch[0]] if batch else lengths[i]
        if batch and ((len(batch) + 1) * width > max_batch_tokens or len(batch) >= max_batch_size):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
