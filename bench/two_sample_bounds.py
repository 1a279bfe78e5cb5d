"""The style metrics' ceiling and floor on a generation task's own data -- the classifier
two-sample test (with the sentence embeddings, as records compute it), MAUVE and the
hard-negative judge's AUC: two halves of real held-out passages (the best a strategy can do:
C2ST near 0.5, MAUVE near 1, AUC near 0.5) and real passages against the contrast prose (what
"not in the style" scores), each over several draws of the texts, at the quick profile's size
(48 pairs) and a larger one. The judge is the one the records use: trained on the base
model's cached negatives (written on a cache miss, minutes on a CPU).

    python bench/two_sample_bounds.py --task shakespeare --draws 5

Written to bench/results/two_sample_bounds.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]
from artifact import environment, write_artifact  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="shakespeare")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--pairs", default="48,200", help="texts per side, comma-separated")
    parser.add_argument("--min-words", type=int, default=30)
    parser.add_argument("--data-dir", default=os.environ.get("HARNESS_DATA_DIR"))
    parser.add_argument("--mauve-draws", type=int, default=50,
                        help="bootstrap draws of each MAUVE interval")
    args = parser.parse_args()
    from harness.inputs.data import load_split
    from harness.inputs.tasks import get_task
    from harness.metrics.hard_negatives import hard_judge
    from harness.metrics.mauve_score import mauve_score
    from harness.metrics.style_judge import heldout_texts
    from harness.metrics.text_features import embed
    from harness.metrics.two_sample import kept_pairs, two_sample

    started = environment()
    task = get_task(args.task)
    real = [t for t in load_split(task, task.eval_split, args.data_dir).texts
            if len(str(t).split()) >= args.min_words]
    contrast = [str(t) for t in load_split(task, task.contrast_split, args.data_dir).texts
                if len(str(t).split()) >= args.min_words]
    fit = heldout_texts(task, args.data_dir)
    judge = hard_judge(negatives(task, args.data_dir))
    rows = []
    for n in map(int, args.pairs.split(",")):
        for name, other in (("real halves (ceiling)", None), ("real vs contrast (floor)",
                                                              contrast)):
            results = []
            for draw in range(args.draws):
                rng = np.random.default_rng(draw)
                a = [str(real[i]) for i in rng.choice(len(real), 2 * n, replace=False)]
                b = a[n:] if other is None else [other[i] for i in rng.choice(len(other), n,
                                                                               replace=False)]
                result = two_sample(a[:n], b, fit_text=fit, embed=embed, seed=draw)
                real_cut, other_cut = kept_pairs(a[:n], b)
                mauve = mauve_score(embed(real_cut), embed(other_cut), draws=args.mauve_draws)
                verdict = judge.compare(a[:n], b)
                results.append({"accuracy": result.accuracy, "low": result.low,
                                "high": result.high, "pairs": result.n, "mauve": list(mauve),
                                "judge_auc": [verdict[f"hard_judge_auc{end}"]
                                              for end in ("", "_ci_low", "_ci_high")]})
            summary = {"comparison": name, "pairs": n, "draws": results}
            for metric, value in (("accuracy", lambda r: r["accuracy"]),
                                  ("mauve", lambda r: r["mauve"][0]),
                                  ("judge_auc", lambda r: r["judge_auc"][0])):
                values = [value(r) for r in results]
                summary[metric] = {"mean": float(np.mean(values)), "min": float(np.min(values)),
                                   "max": float(np.max(values))}
            # the C2ST's figures where the README's earlier readers found them
            summary.update({k: summary["accuracy"][k] for k in ("mean", "min", "max")})
            rows.append(summary)
            print(f"{name:26s} {n:4d} pairs, {args.draws} draws: " + "; ".join(
                f"{metric} mean {summary[metric]['mean']:.3f} [{summary[metric]['min']:.3f}, "
                f"{summary[metric]['max']:.3f}]" for metric in ("accuracy", "mauve",
                                                                 "judge_auc")))
    figures = {"rows": rows, "texts": {"real": len(real), "contrast": len(contrast),
                                       "fit": len(fit)}, "judge": judge.summary(),
               "note": "each draw: texts drawn without replacement from the evaluation split "
                       "(passages of at least min_words words), the classifier's folds seeded "
                       "by the draw; its n-gram features fitted on the validation split only, "
                       "beside all-MiniLM-L6-v2 embeddings; MAUVE on the same embeddings of "
                       "the pairs cut to the same length; the judge's AUC of the first side "
                       "against the second"}
    path = write_artifact("two_sample_bounds", args, figures, started)
    print(f"-> {path}")
    return 0


def negatives(task, data_dir) -> dict:
    """The base model's negatives as the runner writes them on a CPU (from the cache when a
    run has written them)."""
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.inputs.models import DEFAULT_MODELS, resolve_model
    from harness.metrics.hard_negatives import write_negatives

    spec = resolve_model(DEFAULT_MODELS["decoder"])
    path = spec.local_path()
    tokenizer = AutoTokenizer.from_pretrained(path, **spec.load_kwargs())
    model = AutoModelForCausalLM.from_pretrained(path, dtype="auto", **spec.load_kwargs()).eval()
    return write_negatives(SimpleNamespace(task=task, data_dir=data_dir, device="cpu"), model,
                           tokenizer, spec)


if __name__ == "__main__":
    sys.exit(main())
