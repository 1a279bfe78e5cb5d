"""The classifier two-sample test's ceiling and floor on a generation task's own data: two
halves of real held-out passages (the best a strategy can do: accuracy near 0.5) and real
passages against the contrast prose (what "not in the style" scores: near 1), each over several
draws of the texts, at the quick profile's size (48 pairs) and a larger one.

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
    args = parser.parse_args()
    from harness.inputs.data import load_split
    from harness.inputs.tasks import get_task
    from harness.metrics.style_judge import heldout_texts
    from harness.metrics.two_sample import two_sample

    started = environment()
    task = get_task(args.task)
    real = [t for t in load_split(task, task.eval_split, args.data_dir).texts
            if len(str(t).split()) >= args.min_words]
    contrast = [str(t) for t in load_split(task, task.contrast_split, args.data_dir).texts
                if len(str(t).split()) >= args.min_words]
    fit = heldout_texts(task, args.data_dir)
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
                result = two_sample(a[:n], b, fit_text=fit, seed=draw)
                results.append({"accuracy": result.accuracy, "low": result.low,
                                "high": result.high, "pairs": result.n})
            accuracies = [r["accuracy"] for r in results]
            rows.append({"comparison": name, "pairs": n, "draws": results,
                         "mean": float(np.mean(accuracies)), "min": float(np.min(accuracies)),
                         "max": float(np.max(accuracies))})
            print(f"{name:26s} {n:4d} pairs: mean {np.mean(accuracies):.3f} "
                  f"[{np.min(accuracies):.3f}, {np.max(accuracies):.3f}] over {args.draws} draws")
    figures = {"rows": rows, "texts": {"real": len(real), "contrast": len(contrast),
                                       "fit": len(fit)},
               "note": "each draw: texts drawn without replacement from the evaluation split "
                       "(passages of at least min_words words), the classifier's folds seeded "
                       "by the draw; the features fitted on the validation split only"}
    path = write_artifact("two_sample_bounds", args, figures, started)
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
