"""Label scoring on vLLM: the `vllm` backend of the prompting strategies.

The same prompts and token ids as the transformers scorer (`LabelPrompts`), run by vLLM with
prefix caching on: the system prompt and a trial's demonstrations are computed once and their
key/value blocks reused by every example. Each request generates one token and returns the
log-probabilities of the label tokens only (`logprob_token_ids`), taken from the raw model
output, so a label's score is the same log-probability the transformers backend computes.
A multi-token label word adds one request per further token (prompt + the label's tokens so
far), which reuses the prompt's cached blocks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from harness.api.backends import check_installed
from harness.errors import HarnessError
from strategies.label_scoring import LabelPrompts

# Share of memory vLLM reserves for weights and its key/value cache: of the GPU's memory on
# CUDA, of RAM with the CPU build (which takes it up front whatever the model's size). The
# prompting strategies carry it as a setting (`vllm_memory_share`), so it is in the cell's key.
DEFAULT_MEMORY_SHARE = 0.3

def import_vllm():
    # The runner's cell is a daemonic process, which may not start children: keep vLLM's engine
    # in this process. Quiet its per-request logging unless the user asked for it.
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    check_installed("vllm")
    import vllm

    if not hasattr(vllm.SamplingParams(), "logprob_token_ids"):
        raise HarnessError(f"vLLM {vllm.__version__} cannot return the log-probabilities of chosen "
                           f"tokens (SamplingParams.logprob_token_ids); install vLLM >= 0.32")
    return vllm


def open_engine(path: str | Path, seed: int, memory_share: float = DEFAULT_MEMORY_SHARE,
                trust_remote_code: bool = False, max_lora_rank: int | None = None,
                precision: str = "fp32"):
    """A vLLM engine on a local model folder, in the precision of its config (as transformers
    loads it) or bf16 when the cell runs in it, prefix caching on; with `max_lora_rank` it also
    serves LoRA adapters."""
    from transformers import AutoConfig

    vllm = import_vllm()
    dtype = "bfloat16" if precision == "bf16" else config_dtype(
        AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code))
    lora = {"enable_lora": True, "max_lora_rank": max_lora_rank, "max_loras": 1} \
        if max_lora_rank else {}
    return vllm.LLM(model=str(path), tokenizer=str(path), dtype=dtype, seed=seed,
                    enable_prefix_caching=True, trust_remote_code=trust_remote_code,
                    gpu_memory_utilization=memory_share,
                    **lora)


def lora_request(adapter_dir: Path):
    from vllm.lora.request import LoRARequest

    return LoRARequest("tuned", 1, str(adapter_dir))


def config_dtype(config) -> str:
    # vLLM's "auto" turns float32 checkpoints into 16-bit ones; transformers keeps the config's.
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return str(dtype).removeprefix("torch.") if dtype is not None else "auto"


class VllmLabelScorer(LabelPrompts):
    def __init__(self, engine, tokenizer, label_words: Sequence[str], use_chat_template=True,
                 system_prompt: str | None = None, lora_request=None):
        super().__init__(tokenizer, label_words, use_chat_template, system_prompt)
        self.engine, self.lora_request = engine, lora_request

    def score(self, prompts: Sequence[str], progress: bool = False) -> np.ndarray:
        """(n, num_labels) raw label scores, log P(label | prompt), of rendered prompts."""
        first_tokens = list(dict.fromkeys(label[0] for label in self.label_ids))
        prompt_ids = [self.prompt_ids(p) for p in prompts]
        # (example, label or None, token ids, tokens whose log-probs are read)
        firsts = [(i, None, ids, first_tokens) for i, ids in enumerate(prompt_ids)]
        continuations = [(i, k, ids + label[:j], [label[j]])
                         for i, ids in enumerate(prompt_ids)
                         for k, label in enumerate(self.label_ids) for j in range(1, len(label))]
        totals = np.zeros((len(prompts), len(self.label_ids)))
        # Continuations run after the prompts so they find the prompts' blocks cached.
        for wave in (firsts, continuations):
            if not wave:
                continue
            for (i, k, ids, tokens), out in zip(wave, self._generate(wave, progress)):
                read = out.outputs[0].logprobs[0]
                self.tokens_processed += len(ids) - (out.num_cached_tokens or 0)
                if k is None:
                    for label, ids_ in enumerate(self.label_ids):
                        totals[i, label] += read[ids_[0]].logprob
                else:
                    totals[i, k] += read[tokens[0]].logprob
        return totals

    def _generate(self, wave, progress: bool):
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = [SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=tokens,
                                 detokenize=False) for _, _, _, tokens in wave]
        return self.engine.generate([TokensPrompt(prompt_token_ids=ids) for _, _, ids, _ in wave],
                                    params, use_tqdm=progress, lora_request=self.lora_request)
