"""Seed repetition: which seed moves, the median and spread of known histories, the
"beyond / within the spread between seeds" wording, the band figure, and one tiny repeat."""

import json
import math

import numpy as np
import pytest

from lstm_explorer import seeds
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig
from lstm_explorer.errors import ConfigError
from lstm_explorer.figures import Theme

ADDING_BASELINE = {"value": 0.167, "description": "always answering 1.0", "key": "val_loss",
                   "higher_is_better": False, "margin": 0.02}


def history(val_losses, grads=None, status="finished", baseline=ADDING_BASELINE):
    """Rows with the given validation losses (and grad_h per epoch), loss = 2 × val_loss."""
    rows = []
    for index, value in enumerate(val_losses):
        row = {"epoch": index + 1, "loss": None if value is None else 2 * value,
               "val_loss": value, "seconds": 1.0}
        if grads is not None:
            row["probe"] = {"grad_h": {"layer0": list(grads[index])}}
        rows.append(row)
    out = {"epochs": rows, "status": status}
    if baseline is not None:
        out["baseline"] = dict(baseline)
    return out


def group(name, finals, statuses=None, seed_list=None, **keywords):
    """A seed group whose seed k ends with validation loss finals[k] (None: diverged)."""
    runs = []
    for index, final in enumerate(finals):
        status = (statuses or {}).get(index, "diverged" if final is None else "finished")
        runs.append(RunSummary(f"{name}, seed {index}", None,
                               history([0.3, final], status=status, **keywords),
                               {"seconds": 2.0}))
    return seeds.SeedGroup.of(name, runs, seed_list or list(range(len(finals))))


# --- which seeds ---------------------------------------------------------------------------


def test_a_repeat_moves_the_training_seed_and_keeps_the_data():
    base = ExperimentConfig.default().with_values({"training.seed": 3, "task.seed": 7})
    repeated = seeds.seed_configs(base, 3)
    assert [seed for seed, _ in repeated] == [3, 4, 5]
    assert [config.training["seed"] for _, config in repeated] == [3, 4, 5]
    assert {config.task["seed"] for _, config in repeated} == {7}
    # Nothing else changes: the first repeat is the config itself.
    assert repeated[0][1].to_dict() == base.to_dict()


def test_vary_data_moves_the_task_seed_by_the_same_offsets():
    base = ExperimentConfig.default().with_values({"task.seed": 7})
    assert [c.task["seed"] for _, c in seeds.seed_configs(base, 3, vary_data=True)] == [7, 8, 9]


@pytest.mark.parametrize("n", [0, -1, 21, 2.5, True, "3"])
def test_a_bad_number_of_seeds_is_an_error_naming_the_argument_and_echoing_it(n):
    with pytest.raises(ConfigError) as caught:
        seeds.seed_values(ExperimentConfig.default(), n, field="--seeds")
    assert caught.value.field == "--seeds"
    assert str(caught.value).startswith(f"--seeds={n!r}: must be an integer from 1 to 20")


def test_seeds_that_would_pass_the_largest_seed_are_refused_before_training():
    config = ExperimentConfig.default().with_values({"training.seed": 2**31 - 2})
    with pytest.raises(ConfigError, match="would pass the largest seed"):
        seeds.seed_values(config, 3)


# --- statistics on known values -------------------------------------------------------------


def test_stats_give_the_median_range_and_quartiles_of_the_finite_values():
    assert seeds.stats([5.0, 1.0, None, 3.0, math.nan, 2.0, 4.0, math.inf]) == {
        "median": 3.0, "min": 1.0, "max": 5.0, "q1": 2.0, "q3": 4.0, "count": 5}
    assert seeds.stats([1.0, 2.0, 3.0, 4.0])["median"] == 2.5
    assert seeds.stats([None, math.nan])["median"] is None
    assert seeds.stats([]) ["count"] == 0


def test_gradient_norms_are_summed_up_on_a_log_scale():
    summary = seeds.stats([1e-8, 1e-6, 1e-4, 1e-2], log=True)
    assert summary["median"] == pytest.approx(1e-5)
    assert summary["min"] == 1e-8 and summary["max"] == 1e-2
    # A zero has no logarithm: then the plain scale.
    assert seeds.stats([0.0, 1.0], log=True)["median"] == 0.5


def test_epoch_stats_count_only_the_runs_that_reached_each_epoch():
    found = seeds.epoch_stats([history([0.5, 0.1, 0.05]), history([0.7]),
                               history([0.6, 0.3])], "val_loss")
    assert found["epochs"] == [1, 2, 3]
    assert found["median"] == [0.6, 0.2, 0.05]
    assert found["min"] == [0.5, 0.1, 0.05] and found["max"] == [0.7, 0.3, 0.05]
    assert found["count"] == [3, 2, 1]


def test_aggregate_sums_up_every_metric_and_the_per_step_gradients_per_epoch():
    grads = lambda g0: [[g0, 0.5, 1.0], [g0 * 10, 0.5, 1.0]]  # noqa: E731
    histories = [history([0.4, 0.1], grads(1e-6)), history([0.5, 0.2], grads(1e-4)),
                 history([0.6, 0.3], grads(1e-2))]
    summary = seeds.aggregate(histories, seeds=[10, 11, 12])
    assert summary["seeds"] == [10, 11, 12] and summary["epochs"] == [1, 2]
    assert summary["metrics"]["val_loss"]["median"] == [0.5, 0.2]
    assert summary["metrics"]["val_loss"]["min"] == [0.4, 0.1]
    assert summary["metrics"]["val_loss"]["max"] == [0.6, 0.3]
    assert summary["metrics"]["loss"]["median"] == [1.0, 0.4]
    per_step = summary["gradients"]["grad_h"]["layer0"]
    assert per_step["median"][0] == pytest.approx([1e-4, 0.5, 1.0])
    assert per_step["min"][1] == pytest.approx([1e-5, 0.5, 1.0])
    assert per_step["max"][1] == pytest.approx([1e-1, 0.5, 1.0])
    assert summary["step0_share"]["layer0"]["median"] == pytest.approx([1e-4, 1e-3])
    score = summary["score"]
    assert (score["key"], score["values"], score["median"]) == ("val_loss", [0.1, 0.2, 0.3], 0.2)
    json.dumps(summary, allow_nan=False)  # JSON as it stands: no NaN, no numpy types


def test_the_median_history_is_the_typical_seed_and_names_the_seeds_that_diverged():
    finished = history([0.3, 0.1])
    diverged = history([0.3, None], status="diverged")
    median = seeds.median_history([finished, history([0.5, 0.2]), diverged], seeds=[0, 1, 2])
    assert [row["val_loss"] for row in median["epochs"]] == [0.3, 0.15000000000000002]
    assert median["status"] == "finished"
    assert median["notes"] == ["seed 2 diverged"]
    assert median["baseline"]["value"] == 0.167
    all_diverged = seeds.median_history([diverged, diverged])
    assert all_diverged["status"] == "diverged" and all_diverged["notes"] == ["every seed diverged"]


def test_a_seed_group_is_a_run_summary_of_its_median_run():
    built = group("LSTM", [0.01, 0.02, 0.03])
    assert isinstance(built, RunSummary)
    assert built.history["epochs"][-1]["val_loss"] == 0.02
    assert built.readings["seconds"] == 6.0  # the total of its seeds
    assert built.seeds == [0, 1, 2] and len(built.runs) == 3
    assert built.problems == []


# --- beyond or within the spread ------------------------------------------------------------


def test_ranges_that_do_not_overlap_are_a_difference_beyond_the_spread_between_seeds():
    comparison = seeds.compare_groups([group("SimpleRNN", [0.16, 0.17, 0.165]),
                                       group("LSTM", [0.01, 0.03, 0.02])])
    assert comparison.beyond_spread is True
    assert comparison.key == "val_loss" and comparison.higher_is_better is False
    pair = comparison.pair("LSTM", "SimpleRNN")
    assert pair.beyond and pair.better == "LSTM" and pair.difference == pytest.approx(0.145)
    assert comparison.sentence == (
        "Final validation loss over 3 seeds (seeds 0 to 2), median (min–max): SimpleRNN "
        "0.165 (0.16–0.17); LSTM 0.02 (0.01–0.03). LSTM has a lower validation loss than "
        "SimpleRNN with every seed: the ranges do not overlap, so the difference is larger "
        "than the spread between seeds.")


def test_overlapping_ranges_are_said_to_be_within_the_spread_between_seeds():
    comparison = seeds.compare_groups([group("units=8", [0.10, 0.12, 0.20]),
                                       group("units=32", [0.09, 0.11, 0.13])])
    assert comparison.beyond_spread is False
    assert comparison.pair("units=8", "units=32").better == "units=32"
    assert comparison.sentence.endswith(
        "The ranges of units=8 and units=32 overlap: the difference between their medians "
        "(0.01) is within the spread between seeds: this difference may be one seed's luck.")


def test_a_diverged_seed_counts_as_the_worst_score_and_is_named():
    # Without seed 2, LSTM's range (0.01–0.02) lies below SimpleRNN's; its diverged seed
    # makes it not better with every seed.
    comparison = seeds.compare_groups([group("SimpleRNN", [0.16, 0.17, 0.165]),
                                       group("LSTM", [0.01, 0.02, None])])
    assert comparison.beyond_spread is False
    assert "LSTM 0.015 (0.01–0.02), seed 2 diverged" in comparison.sentence
    assert "LSTM learned with seeds 0 and 1; diverged with seed 2." in comparison.sentence
    # And a group that diverged with every seed is worse than any that did not.
    worse = seeds.compare_groups([group("no clipping", [None, None]),
                                  group("clipnorm=1.0", [0.15, 0.16])])
    assert worse.beyond_spread is True and worse.pairs[0].better == "clipnorm=1.0"
    assert "no clipping: diverged with every seed" in worse.sentence


def test_seeds_that_disagree_on_whether_a_run_learned_are_named():
    comparison = seeds.compare_groups([group("SimpleRNN", [0.166, 0.17, 0.168, 0.165, 0.167]),
                                       group("LSTM", [0.006, 0.009, 0.171, 0.004, 0.005])])
    assert ("LSTM learned with seeds 0, 1, 3 and 4; learned nothing with seed 2."
            in comparison.sentence)
    assert "SimpleRNN learned" not in comparison.sentence  # all five agree: nothing to say
    assert comparison.sentence.endswith("within the spread between seeds: this difference "
                                        "may be one seed's luck.")


def test_accuracy_is_better_when_higher():
    def accuracy_group(name, finals):
        runs = [RunSummary(f"seed {s}", None, {"epochs": [{"val_accuracy": v}]})
                for s, v in enumerate(finals)]
        return seeds.SeedGroup.of(name, runs)
    comparison = seeds.compare_groups([accuracy_group("lag 5", [0.9, 0.95, 1.0]),
                                       accuracy_group("lag 40", [0.12, 0.13, 0.14])])
    assert comparison.key == "val_accuracy" and comparison.higher_is_better
    assert "lag 5 90% (90%–100%)" not in comparison.sentence
    assert "lag 5 95% (90%–100%)" in comparison.sentence
    assert ("lag 5 has a higher validation accuracy than lag 40 with every seed"
            in comparison.sentence)


def test_with_three_groups_each_pair_is_said_to_be_beyond_or_within_the_spread():
    comparison = seeds.compare_groups([group("SimpleRNN", [0.16, 0.17]),
                                       group("GRU", [0.001, 0.002]),
                                       group("LSTM", [0.0015, 0.01])])
    assert comparison.beyond_spread is False
    assert comparison.pair("GRU", "LSTM").beyond is False
    assert ("Larger than the spread between seeds (the ranges do not overlap): GRU lower "
            "than SimpleRNN; LSTM lower than SimpleRNN." in comparison.sentence)
    assert comparison.sentence.endswith(
        "Within the spread between seeds: GRU and LSTM: this difference may be one seed's luck.")


def test_one_seed_per_run_says_plainly_that_there_is_no_spread_to_judge_by():
    comparison = seeds.compare_groups([("a", history([0.3, 0.1])), ("b", history([0.3, 0.2]))])
    assert comparison.beyond_spread is None
    assert comparison.pairs[0].beyond is None
    assert "One seed per run: there is no spread between seeds" in comparison.sentence


def test_compare_groups_names_groups_when_there_are_too_few():
    with pytest.raises(ValueError, match="groups: expected 2 to 6 groups"):
        seeds.compare_groups([group("a", [0.1, 0.2])])


def test_the_verdict_over_seeds_says_which_seeds_learned_and_the_spread():
    grads = [[1e-3, 1.0], [1e-2, 1.0]]
    runs = [RunSummary(f"seed {s}", None, history([0.3, v], grads))
            for s, v in enumerate([0.006, 0.009, 0.171, 0.004, 0.005])]
    text = seeds.verdict(seeds.SeedGroup.of("", runs))
    assert text == (
        "Over 5 seeds (seeds 0 to 4 of training.seed): learned with seeds 0, 1, 3 and 4; "
        "learned nothing with seed 2. Validation loss: median 0.006, min 0.004, max 0.171, "
        "against 0.167 for always answering 1.0. The gradient reaching step 0 is a median "
        "1.0e-02 of the last step's (min 1.0e-02, max 1.0e-02).")


def test_the_verdict_of_a_single_seed_says_that_one_seed_shows_no_spread():
    single = seeds.SeedGroup.of("", [RunSummary("seed 0", None, history([0.3, 0.01]))])
    assert seeds.verdict(single).startswith("Learned: validation loss 0.01")
    assert seeds.verdict(single).endswith("One seed only: repeat over several seeds to see "
                                          "whether another seed would go otherwise.")


# --- the band figure ------------------------------------------------------------------------


def test_metric_band_draws_each_groups_median_over_its_min_max_band():
    fig = seeds.metric_band([group("a", [0.1, 0.3, 0.2]), group("b", [0.5, 0.7, 0.6])])
    assert [trace.name for trace in fig.data] == ["a (range)", "a", "b (range)", "b"]
    band, line = fig.data[0], fig.data[1]
    assert list(band.x) == [1, 2, 2, 1]
    assert list(band.y) == pytest.approx([0.3, 0.3, 0.1, 0.3])  # max there, min back
    assert list(line.y) == pytest.approx([0.3, 0.2])
    assert band.fill == "toself" and band.showlegend is False and band.legendgroup == "a"
    assert fig.layout.yaxis.type == "log"
    assert fig.layout.title.subtitle.text == "line: median of 3 seeds, band: min–max"


def test_metric_band_can_show_the_middle_half_and_takes_a_theme():
    fig = seeds.metric_band([group("a", [0.1, 0.2, 0.3, 0.4, 0.5])], spread="iqr",
                            theme=Theme(dark=True))
    assert list(fig.data[0].y) == pytest.approx([0.3, 0.4, 0.2, 0.3])
    assert fig.layout.template.layout.paper_bgcolor == "#0E1117"
    with pytest.raises(ValueError, match="spread='sd'"):
        seeds.metric_band([group("a", [0.1])], spread="sd")


def test_a_group_of_one_seed_gets_its_line_without_a_band():
    fig = seeds.metric_band([("single", history([0.3, 0.1]))])
    assert [trace.name for trace in fig.data] == ["single"]


# --- a tiny real repeat ---------------------------------------------------------------------

TINY = {"task": {"name": "adding", "seq_len": 5, "n_samples": 32},
        "model": {"layers": [{"units": 2}]},
        "training": {"epochs": 1, "batch_size": 16}}


def test_repeat_trains_each_seed_on_the_same_data_and_writes_the_aggregate(tmp_path):
    events = []
    group = seeds.repeat(ExperimentConfig.from_dict(TINY), 2, tmp_path, events.append)
    assert group.seeds == [0, 1] and [run.name for run in group.runs] == ["seed 0", "seed 1"]
    assert [run.run_dir for run in group.runs] == [tmp_path / "seed-0", tmp_path / "seed-1"]
    first, second = (run.history for run in group.runs)
    # Same data (the same baseline, measured on it), other initial weights.
    assert first["baseline"] == second["baseline"]
    assert first["epochs"][0]["val_loss"] != second["epochs"][0]["val_loss"]
    assert json.loads((tmp_path / "seed-1" / "config.json").read_text())["training"]["seed"] == 1
    record = json.loads((tmp_path / "seeds.json").read_text())
    assert [run["run_dir"] for run in record["runs"]] == ["seed-0", "seed-1"]
    assert record["seed_key"] == "training.seed"
    assert record["score"]["values"] == [first["epochs"][0]["val_loss"],
                                         second["epochs"][0]["val_loss"]]
    assert record["verdict"] == (tmp_path / "verdict.txt").read_text().strip()
    assert record["verdict"].startswith("Over 2 seeds (seeds 0 and 1 of training.seed; "
                                        "the same data)")
    # Events are numbered over every run of the repeat, with one "finished" at the end.
    assert {(e.index, e.total) for e in events if e.kind == "run_started"} == {(0, 2), (1, 2)}
    assert [e.kind for e in events].count("finished") == 1
    assert np.isfinite(record["metrics"]["val_loss"]["median"][0])


def test_the_seeds_module_imports_neither_tensorflow_nor_streamlit():
    import subprocess
    import sys

    code = ("import sys, lstm_explorer.seeds\n"
            "bad = [m for m in ('tensorflow', 'keras', 'streamlit') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_when_at_least_half_the_seeds_diverged_the_median_seed_diverged():
    def diverging(at):
        rows = [{"epoch": e, "loss": 1.0 / e, "val_loss": 1.0 / e} for e in range(1, at)]
        rows.append({"epoch": at, "loss": math.nan, "val_loss": math.nan})
        return {"epochs": rows, "status": "diverged"}
    finished = {"epochs": [{"epoch": e, "loss": 0.5 / e, "val_loss": 0.5 / e}
                           for e in (1, 2, 3, 4)], "status": "finished"}
    median = seeds.median_history([diverging(2), finished, diverging(3), diverging(4),
                                   finished], seeds=[0, 1, 2, 3, 4])
    # Seeds 0, 2 and 3 diverged in epochs 2, 3 and 4: by epoch 4, three of five had.
    assert median["status"] == "diverged"
    assert [row["epoch"] for row in median["epochs"]] == [1, 2, 3, 4]
    assert median["epochs"][-1]["loss"] is None
    assert median["message"] == "The median seed diverged in epoch 4: 3 of 5 seeds diverged."
    runs = [RunSummary(f"seed {s}", None, h) for s, h in
            enumerate([diverging(2), finished, diverging(3), diverging(4), finished])]
    score = seeds.SeedGroup.of("No clipping", runs).score("val_loss")
    assert score.median is None and score.missing == [0, 2, 3]
    assert score.text() == "No clipping: diverged with seeds 0, 2 and 3, 0.125 with seeds 1 and 4"
