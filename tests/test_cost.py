"""Prices and costs worked out from stored device-seconds: per core-hour on a CPU, per GPU-hour
on a GPU, set-up apart, a multi-task cell's training shared between its tasks."""

import json
import re

import pandas as pd
import pytest

from harness.results.cost import (DEFAULT_PRICES_USD_PER_HOUR, load_prices, price_records,
                                  usd_per_hour)
from harness.errors import HarnessError

CORE = DEFAULT_PRICES_USD_PER_HOUR["cpu_core"]


def priced(*records: dict, prices=None) -> pd.DataFrame:
    return price_records(pd.DataFrame(list(records)), prices or load_prices(None))


def cell(**fields) -> dict:
    """A record of one CPU cell: an hour of load + fit, 1,000 predictions in 36 s."""
    return {"device": "cpu", "device_name": "Intel Xeon", "cpu_threads": 2, "setup_s": 1800.0,
            "load_s": 600.0, "fit_s": 3000.0, "predict_s": 36.0, "n_predictions": 1000,
            "fit_shared_by": 1, **fields}


def test_cpu_is_priced_per_core_hour_times_the_threads_used():
    two, four = priced(cell(cpu_threads=2), cell(cpu_threads=4)).to_dict("records")
    assert two["usd_per_hour"] == pytest.approx(2 * CORE)
    assert four["usd_per_hour"] == pytest.approx(4 * CORE)
    for name in ("setup_cost_usd", "fit_cost_usd", "predict_cost_usd_per_1k", "cost_usd"):
        assert four[name] == pytest.approx(2 * two[name]), name


def test_a_cpu_only_cell_on_a_gpu_machine_is_priced_as_cpu():
    # tf-idf and zero-shot in one run on an H200 machine: only zero-shot used the GPU.
    tfidf, zero_shot = priced(cell(device="cpu", device_name="Intel Xeon Platinum 8480+"),
                              cell(device="cuda", device_name="NVIDIA H200")).to_dict("records")
    assert tfidf["usd_per_hour"] == pytest.approx(2 * CORE)
    assert zero_shot["usd_per_hour"] == pytest.approx(DEFAULT_PRICES_USD_PER_HOUR["NVIDIA H200"])


def test_an_unlisted_gpu_is_priced_at_the_cuda_entry():
    prices = load_prices(None)
    assert usd_per_hour(prices, "cuda", "Some New GPU", cpu_threads=8) == prices["cuda"]


def test_costs_from_the_phases():
    record = priced(cell()).iloc[0]
    rate = 2 * CORE
    assert record["setup_cost_usd"] == pytest.approx(0.5 * rate)  # 1,800 s, one-off
    assert record["fit_cost_usd"] == pytest.approx(rate)  # load + fit: one hour
    assert record["predict_cost_usd_per_1k"] == pytest.approx(0.01 * rate)  # 36 s / 1,000
    assert record["cost_usd"] == pytest.approx(1.01 * rate)  # fit + predict, set-up left out


def test_a_multi_task_cell_shares_its_training_between_its_tasks():
    alone, shared = priced(cell(fit_shared_by=1), cell(fit_shared_by=3)).to_dict("records")
    assert shared["fit_cost_usd"] == pytest.approx(alone["fit_cost_usd"] / 3)
    # Each task's own prediction is its own.
    assert shared["predict_cost_usd_per_1k"] == pytest.approx(alone["predict_cost_usd_per_1k"])
    assert shared["setup_cost_usd"] == pytest.approx(alone["setup_cost_usd"])


def test_predictions_counted_from_rows_and_trials_when_not_recorded():
    record = cell(n_eval=250, trials=4)
    del record["n_predictions"]
    assert priced(record).iloc[0]["predict_cost_usd_per_1k"] == pytest.approx(0.01 * 2 * CORE)


def test_cost_fields_of_old_records_are_replaced_not_read():
    record = priced(cell(cost_usd=99.0, fit_cost_usd=99.0, usd_per_hour=0.10)).iloc[0]
    assert record["usd_per_hour"] == pytest.approx(2 * CORE)
    assert record["cost_usd"] == pytest.approx(1.01 * 2 * CORE)


def test_a_failed_record_without_seconds_costs_nothing():
    record = priced(cell(), {"status": "failed", "device": "cpu"}).iloc[1]
    assert record["cost_usd"] == 0 and pd.isna(record["predict_cost_usd_per_1k"])


# ----- price tables -----

def test_default_prices_without_a_file():
    prices = load_prices(None)
    assert prices == DEFAULT_PRICES_USD_PER_HOUR
    prices["cpu_core"] = 99.0
    assert DEFAULT_PRICES_USD_PER_HOUR["cpu_core"] == 0.045  # callers get a copy


def test_user_prices_override_and_extend_the_defaults(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"cpu_core": 0.05, "My GPU": 1.25, "cuda": 3}))
    prices = load_prices(str(path))
    assert prices["NVIDIA H200"] == DEFAULT_PRICES_USD_PER_HOUR["NVIDIA H200"]
    assert usd_per_hour(prices, "cuda", "My GPU", cpu_threads=1) == 1.25
    assert usd_per_hour(prices, "cuda", "Unlisted GPU", cpu_threads=1) == 3
    assert usd_per_hour(prices, "cpu", "Intel Xeon", cpu_threads=4) == pytest.approx(0.2)


def test_the_old_per_machine_cpu_entry_is_refused_with_its_replacement(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"cpu": 0.10}))
    with pytest.raises(HarnessError, match="per core-hour as 'cpu_core'"):
        load_prices(str(path))


@pytest.mark.parametrize("content", ["{not json", "", "[0.1, 2.5]", '"cpu"', "3"])
def test_unreadable_or_shapeless_price_table(tmp_path, content):
    path = tmp_path / "prices.json"
    path.write_text(content)
    with pytest.raises(HarnessError, match=re.escape(f"price table '{path}'")):
        load_prices(str(path))


def test_missing_price_table(tmp_path):
    with pytest.raises(HarnessError, match="cannot read price table"):
        load_prices(str(tmp_path / "absent.json"))


@pytest.mark.parametrize("table, bad", [
    ({"cpu_core": -1}, "cpu_core"),
    ({"cpu_core": 0.1, "My GPU": "cheap"}, "My GPU"),
    ({"cuda": None}, "cuda"),
    ({"cuda": True}, "cuda"),  # a boolean is not a price
])
def test_bad_price_entries_are_named_in_one_line(tmp_path, table, bad):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    with pytest.raises(HarnessError) as info:
        load_prices(str(path))
    assert f"bad entries: {bad})" in info.value.message and "\n" not in info.value.message


def test_nan_price_is_rejected(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text('{"cpu_core": NaN}')  # Python's json reads it; every cost would be NaN
    with pytest.raises(HarnessError, match="USD per hour"):
        load_prices(str(path))
