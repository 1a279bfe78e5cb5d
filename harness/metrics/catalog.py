"""The catalog of metrics: one row per number that records and leaderboards carry, saying what
kind of task has it, which way is better, how the report shows and pools it, and whether an ok
record must carry it (as lm-eval's `register_metric(higher_is_better=..., aggregation=...)` and
HELM's `MetricMetadata` do). Every list of metrics reads it: the store's record check, the
runner's own field names, the per-trial metrics of a record, the leaderboard tables (columns,
arrows, CSV), the progress lines and recommend's interpolation between training sizes.

    from harness.metrics import catalog
    catalog.METRICS["macro_f1"].higher_is_better     # True: the report's arrow, the Pareto front
    catalog.pooled("classification", catalog.MEAN)   # a leaderboard row's mean columns, in order
    catalog.required_fields("generation", 4)         # {"perplexity": "number or null", ...}

Adding a metric is one row here, plus the function that computes it. A classification metric
that is a function of a trial's predictions names that function in harness.metrics.stats
(`per_trial`): the cell averages it over trials, the leaderboard over records, the report shows
it under `header` with its arrow, explains it with `note`, and the CSV has it. Other metrics are
computed where their kind's record is made (harness.metrics.generation, the cell's timers).

Data only (no numpy): the store, the runner and the report all import this module.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

CLASSIFICATION, GENERATION, ANY = "classification", "generation", "any"
KINDS = (CLASSIFICATION, GENERATION)
BOTH = KINDS
# JSON types of a record's numbers, for the store's check.
NUMBER, NUMBER_OR_NULL = "number", "number or null"
# How a leaderboard row pools its records (seeds, draws of training rows):
CLUSTERED = "clustered"  # from the predictions, records x trials x rows (accuracy; report.tables)
SPAN = "span"  # the mean; its interval from the lowest record's low to the highest's high
MEAN = "mean"
MAX = "max"  # the worst record: memory is what one must provision for
POOLINGS = (CLUSTERED, SPAN, MEAN, MAX, None)  # None: not pooled by this rule (see the row)
# Intervals: a metric's `<name>_ci_low` and `<name>_ci_high` in its records (and the CSV),
# or also beside its value in the report's table, where its header says "(95% CI)".
KEPT, SHOWN = "kept", "shown"
# How `harness recommend` reads a metric between two measured training sizes.
LOG_ROWS = "log rows"  # linearly in log rows: quality
ROWS = "rows"  # linearly in rows: training time and cost
WORST = "worst"  # the worse of the two: serving figures, which hardly depend on rows
ACROSS_ROWS = (LOG_ROWS, ROWS, WORST)
# How a report shows a value (harness.report.formats.FORMATS).
FORMATS = (".3f", ".1f", "perplexity", "dollars", "dollars per 1M", "MiB", "MiB.1f")
# What a per-trial function reads: (y_true, y_pred, num_labels) or (probabilities, y_true).
PER_TRIAL_INPUTS = ("labels", "probabilities")


@dataclass(frozen=True)
class Metric:
    name: str  # the record's and the CSV's field
    kind: str  # CLASSIFICATION, GENERATION, or ANY (speed, memory, cost: every kind)
    higher_is_better: bool | None  # None: no direction (a baseline, a judge's own figure)
    header: str | None = None  # the leaderboard's column; None: in the CSV only
    _: KW_ONLY
    format: str = ".3f"  # one of FORMATS
    pooling: str | None = MEAN  # one of POOLINGS
    interval: str | None = None  # KEPT, SHOWN or None
    required: tuple[str, ...] = ()  # the kinds whose ok records must carry it (and its interval)
    since: int = 1  # ... from this record schema on
    json: str = NUMBER_OR_NULL  # its JSON type in a record
    per_trial: tuple[str, str] | None = None  # (input, function of harness.metrics.stats)
    # Its part of a finished cell's line ({value}, {low}, {high}), for the kinds requiring it.
    progress: str | None = None
    across_rows: str = WORST  # LOG_ROWS, ROWS or WORST
    note: str | None = None  # how to read it (Markdown), under a classification report

    def __post_init__(self):
        # A row with a value no reader knows would be skipped silently: say so at import.
        allowed = {"kind": (*KINDS, ANY), "format": FORMATS, "pooling": POOLINGS,
                   "interval": (KEPT, SHOWN, None), "across_rows": ACROSS_ROWS}
        wrong = [f"{key}={getattr(self, key)!r} (one of {', '.join(map(repr, values))})"
                 for key, values in allowed.items() if getattr(self, key) not in values]
        wrong += [f"required={self.required!r} (kinds: {', '.join(KINDS)})"
                  for kind in self.required if kind not in KINDS][:1]
        if self.per_trial is not None and self.per_trial[0] not in PER_TRIAL_INPUTS:
            wrong.append(f"per_trial={self.per_trial!r} (reads one of {PER_TRIAL_INPUTS})")
        if wrong:
            raise ValueError(f"metric '{self.name}': {'; '.join(wrong)}")

    @property
    def fields(self) -> tuple[str, ...]:
        """Its fields in a record: the value, then its interval's ends if it has one."""
        ends = (f"{self.name}_ci_low", f"{self.name}_ci_high") if self.interval else ()
        return (self.name, *ends)

    @property
    def column(self) -> str | None:
        """The header as a table shows it."""
        if self.header is None:
            return None
        return f"{self.header} (95% CI)" if self.interval == SHOWN else self.header


_CALIBRATION = ("*ECE* (15 equal-width bins of the top label's probability), *Brier* "
                "(multi-class) and *NLL* say how well the stored scores, as probabilities "
                "(softmax where they are not), match the outcomes; lower is better.")

# In the order of the report's columns, the CSV's and the progress lines. Rows of a kind
# before those of any kind: quality first, then speed, memory, size and cost.
CATALOG = (
    # classification
    Metric("accuracy", CLASSIFICATION, True, "accuracy", pooling=CLUSTERED, interval=SHOWN,
           required=(CLASSIFICATION,), json=NUMBER, across_rows=LOG_ROWS,
           progress="accuracy{on} {value:.3f}{over} [{low:.3f}, {high:.3f}]"),
    Metric("macro_f1", CLASSIFICATION, True, "macro-F1", required=(CLASSIFICATION,),
           per_trial=("labels", "macro_f1"), progress="macro-F1 {value:.3f}",
           across_rows=LOG_ROWS,
           note="*macro-F1*: the mean F1 over classes that have evaluation rows; per-class "
                "precision, recall and support are under each row below."),
    # Cohen's kappa rather than balanced accuracy: balanced accuracy is the mean of the
    # per-class recalls each row already shows; kappa discounts the agreement a strategy's own
    # label frequencies give by chance, so one that answers from its prior scores near 0 on
    # skewed rows too, where its accuracy looks fine.
    Metric("cohen_kappa", CLASSIFICATION, True, "Cohen's kappa",
           per_trial=("labels", "cohen_kappa"), across_rows=LOG_ROWS,
           note="*Cohen's kappa*: agreement with the gold labels beyond what chance would give "
                "with the same frequencies of labels and predictions (0: chance, 1: all "
                "right), the mean over trials; '-' for records made before it was measured."),
    Metric("ece", CLASSIFICATION, False, "ECE", required=(CLASSIFICATION,), since=3,
           per_trial=("probabilities", "ece"), across_rows=LOG_ROWS, note=_CALIBRATION),
    Metric("brier", CLASSIFICATION, False, "Brier", required=(CLASSIFICATION,), since=3,
           per_trial=("probabilities", "brier"), across_rows=LOG_ROWS),
    Metric("nll", CLASSIFICATION, False, "NLL", required=(CLASSIFICATION,), since=3,
           per_trial=("probabilities", "nll"), across_rows=LOG_ROWS),
    # generation
    Metric("perplexity", GENERATION, False, "perplexity", format="perplexity", pooling=SPAN,
           interval=SHOWN, required=(GENERATION,), across_rows=LOG_ROWS,
           progress="perplexity {value:.1f} [{low:.1f}, {high:.1f}]"),
    # How far trial 0's continuations are from the real ones of the same prompts, each pair
    # cut to its shorter side (harness.cell.generation.discriminating): these rank strategies
    # where the contrast judge's style accuracy is at its ceiling for all of them.
    # A classifier two-sample test (harness.metrics.two_sample): 0.5 when it cannot tell them
    # apart; lower is better down to chance
    Metric("two_sample_accuracy", GENERATION, False, "C2ST accuracy",
           pooling=SPAN, interval=SHOWN, across_rows=LOG_ROWS),
    # MAUVE on sentence embeddings (harness.metrics.mauve_score), bootstrap over prompts
    Metric("mauve", GENERATION, True, "MAUVE", pooling=SPAN, interval=SHOWN,
           across_rows=LOG_ROWS),
    # The hard-negative judge (harness.metrics.hard_negatives): AUC of real against written,
    # 0.5 when it cannot rank them apart; the written texts' mean log-odds of being real
    Metric("hard_judge_auc", GENERATION, False, "judge AUC", pooling=SPAN, interval=SHOWN,
           across_rows=LOG_ROWS),
    Metric("hard_judge_log_odds", GENERATION, True, pooling=SPAN, interval=KEPT,
           across_rows=LOG_ROWS),  # in the CSV and the judge's note: the table is full
    Metric("style_accuracy", GENERATION, True, "style accuracy", pooling=SPAN, interval=SHOWN,
           required=(GENERATION,), across_rows=LOG_ROWS,
           progress="style accuracy {value:.3f} [{low:.3f}, {high:.3f}]"),
    Metric("fluency_perplexity", GENERATION, False, "fluency perplexity", format="perplexity",
           pooling=SPAN, interval=SHOWN, required=(GENERATION,), across_rows=LOG_ROWS),
    # distinct-1 in the CSV only: distinct-2 says the same
    Metric("distinct_1", GENERATION, True, pooling=SPAN, interval=KEPT,
           required=(GENERATION,), across_rows=LOG_ROWS),
    Metric("distinct_2", GENERATION, True, "distinct-2", pooling=SPAN, interval=KEPT,
           required=(GENERATION,), across_rows=LOG_ROWS),
    # In the CSV and the progress line, not the table: it fits 1,280 px with the metrics that
    # tell strategies apart, and these two tell little (chrF against one sampled reference;
    # repetition beside distinct-2 and fluency perplexity)
    Metric("repetition_rate", GENERATION, False, pooling=SPAN, interval=KEPT,
           across_rows=LOG_ROWS),
    Metric("chrf", GENERATION, True, format=".1f", pooling=SPAN, interval=KEPT,
           required=(GENERATION,), progress="chrF {value:.1f}", across_rows=LOG_ROWS),
    Metric("two_sample_pairs", GENERATION, None),
    Metric("style_score", GENERATION, None),  # the judge's mean probability of style
    Metric("generated_tokens_mean", GENERATION, None),
    # The style judge's own figures (the same for every row it judged), for its note.
    Metric("style_judge_accuracy", GENERATION, None, interval=KEPT),
    Metric("style_judge_n_heldout", GENERATION, None),
    Metric("style_judge_on_reference", GENERATION, None),
    Metric("style_judge_on_contrast", GENERATION, None),
    Metric("hard_judge_reference_log_odds", GENERATION, None),  # the real side's, for its note
    Metric("hard_judge_cv_auc", GENERATION, None),  # out of fold on its own training texts
    Metric("hard_judge_n_positive", GENERATION, None),
    Metric("hard_judge_n_negative", GENERATION, None),
    # speed: fit before tokens/s and examples/s, as a finished cell's line reads
    Metric("fit_s", ANY, False, "fit (s)", format=".1f", required=BOTH,
           progress="fit {value:.1f} s", across_rows=ROWS),
    Metric("tokens_per_s", GENERATION, True, "tokens/s", format=".1f", required=(GENERATION,),
           progress="{value:.1f} tokens/s"),
    Metric("ms_per_token", GENERATION, False, "ms/token", format=".1f"),
    Metric("ttft_ms", GENERATION, False, "TTFT (ms)", format=".1f"),
    Metric("throughput_eps", ANY, True, "examples/s", format=".1f", required=(CLASSIFICATION,),
           progress="{value:.1f} examples/s"),
    Metric("latency_p50_ms", ANY, False, "latency p50 (ms)", format=".1f", required=BOTH),
    Metric("latency_p95_ms", ANY, False, "latency p95 (ms)", format=".1f",
           required=(CLASSIFICATION,)),
    Metric("predict_s", ANY, False, required=BOTH),
    # memory: the worst record
    Metric("rss_above_baseline_bytes", ANY, False, "RAM above baseline (MiB)", format="MiB",
           pooling=MAX),
    Metric("rss_baseline_bytes", ANY, None, pooling=MAX),
    Metric("cuda_peak_reserved_bytes", ANY, False, "GPU reserved (MiB)", format="MiB",
           pooling=MAX),
    Metric("footprint_vllm_reserved_bytes", ANY, None, pooling=MAX),
    # size: the frozen base's weights where a strategy adapts one (report.tables picks)
    Metric("weight_bytes", ANY, False, "weights (MiB)", format="MiB.1f", pooling=None),
    # cost: priced by the report from stored seconds (harness.results.cost), not recorded
    # Shown as dollars with two significant figures, and prediction per million: a reader
    # compares $9.10 per 1M with a hosted API's price, not 0.00000910 per 1k.
    Metric("setup_cost_usd", ANY, False, "set-up (once)", format="dollars"),
    Metric("fit_cost_usd", ANY, False, "fit", format="dollars", across_rows=ROWS),
    Metric("predict_cost_usd_per_1k", ANY, False, "per 1M predictions",
           format="dollars per 1M"),
    Metric("cost_usd", ANY, False, across_rows=ROWS),  # fit + this task's prediction: the plots
)
METRICS = {metric.name: metric for metric in CATALOG}


def of_kind(kind: str) -> list[Metric]:
    """The metrics of a task kind's records: its own and those of any kind, in order."""
    return [m for m in CATALOG if m.kind in (kind, ANY)]


def own(kind: str) -> list[Metric]:
    """The metrics only a task kind has (its quality columns), in order."""
    grouped: dict[str, list[Metric]] = {}  # read from CATALOG each time: a test may extend it
    for metric in CATALOG:
        grouped.setdefault(metric.kind, []).append(metric)
    return grouped.get(kind, [])


def primaries(kind: str) -> list[Metric]:
    """The metrics a task of `kind` may rank its leaderboard by (its `primary_metric`): its own
    quality columns with a direction and an interval pooled over the row's records, so that a
    ranking can be read against its uncertainty. Classification has accuracy alone: its paired
    comparisons and recommend read per-row correctness."""
    return [m for m in own(kind) if m.header and m.higher_is_better is not None
            and m.pooling in (CLUSTERED, SPAN) and m.interval]


def pooled(kind: str, pooling: str) -> list[Metric]:
    """The metrics a leaderboard of `kind` pools by `pooling`, in order."""
    return [m for m in of_kind(kind) if m.pooling == pooling]


def fields(metrics) -> list[str]:
    """The record fields of `metrics`, in order."""
    return [field for metric in metrics for field in metric.fields]


def directions() -> dict[str, bool]:
    """Metric -> whether higher is better, for every metric with a direction."""
    return {m.name: m.higher_is_better for m in CATALOG if m.higher_is_better is not None}


def direction(name: str) -> bool | None:
    """Whether higher is better for a metric; None for no direction or no such metric."""
    metric = METRICS.get(name)
    return None if metric is None else metric.higher_is_better


def required_fields(kind: str, schema: int) -> dict[str, str]:
    """Field -> JSON type of the metrics an ok record of `kind` and `schema` must carry."""
    out = {}
    for metric in CATALOG:
        if kind in metric.required and schema >= metric.since:
            out.update(dict.fromkeys(metric.fields, NUMBER_OR_NULL))
            out[metric.name] = metric.json
    return out


def record_fields() -> frozenset[str]:
    """Every field of every metric: the harness's own names in a record."""
    return frozenset(field for metric in CATALOG for field in metric.fields)
