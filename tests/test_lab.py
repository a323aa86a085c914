"""The lab: every experiment is valid and small, and every conclusion is read from the runs."""

import dataclasses
import json
import math
import re
import types

import numpy as np
import pytest

from lstm_explorer import compare, lab, readings, tasks
from lstm_explorer.compare import RunSummary
from lstm_explorer.config import ExperimentConfig

T = 10


def recall_config(cell="lstm", **layer):
    return ExperimentConfig.from_dict({
        "task": {"name": "recall", "seq_len": T, "lag": T - 1, "n_samples": 1000},
        "model": {"cell": cell, "layers": [{"units": 4, **layer}]}})


def decaying(per_step):
    """grad_h[t] = per_step ** (T - 1 - t): 10**-(T-1-t) for per_step 0.1, flat for 1."""
    return [per_step ** (T - 1 - t) for t in range(T)]


def run(name, grad_h, accuracy=0.125, config=None, grad_c=None, status="finished",
        epochs=3, readings=None, value=None):
    rows = []
    for epoch in range(1, epochs + 1):
        probe = {"grad_h": {"layer0": list(grad_h)},
                 "saturation": {"layer0": {"i": 0.1, "f": 0.2, "o": 0.3}}}
        if grad_c is not None:
            probe["grad_c"] = {"layer0": list(grad_c)}
        rows.append({"epoch": epoch, "loss": 1.0, "val_loss": 1.1, "accuracy": accuracy,
                     "val_accuracy": accuracy, "seconds": 0.5, "probe": probe})
    return RunSummary(name, config, {"epochs": rows, "status": status}, readings or {},
                      value=value)


def cells(simple=0.1, gru=0.5, lstm=1.0, accuracies=(0.12, 0.13, 0.9)):
    return [run("SimpleRNN", decaying(simple), accuracies[0], recall_config("simple_rnn")),
            run("GRU", decaying(gru), accuracies[1], recall_config("gru")),
            run("LSTM", decaying(lstm), accuracies[2], recall_config("lstm"))]


def numbers(text):
    return re.findall(r"\d+(?:\.\d+)?(?:e[+-]\d+)?%?", text)


# --- the experiments -----------------------------------------------------------------------


def test_there_are_eight_experiments_with_unique_keys_titles_and_texts():
    assert len(lab.EXPERIMENTS) == 8
    assert len({e.key for e in lab.EXPERIMENTS}) == 8
    assert len({e.title for e in lab.EXPERIMENTS}) == 8
    assert all(len(e.look_for) > 80 for e in lab.EXPERIMENTS)
    with pytest.raises(KeyError, match="cells, lag"):
        lab.get("nope")


@pytest.mark.parametrize("experiment", lab.EXPERIMENTS, ids=lambda e: e.key)
def test_every_experiment_builds_two_to_six_valid_runs(experiment):
    named = experiment.configs()
    assert compare.MIN_RUNS <= len(named) <= compare.MAX_RUNS
    assert len({name for name, _ in named}) == len(named)
    configs = [config for _, config in named]
    assert all(isinstance(config, ExperimentConfig) for config in configs)
    assert compare.differing_parameters(configs), "the runs must differ in something"
    short = experiment.configs(epochs=1)
    assert all(config.training["epochs"] == 1 for _, config in short)


def test_every_experiment_was_measured_under_a_minute():
    # But the units experiment: a character model needs a few epochs over 10,000 windows
    # (about 85 s on a quiet 2-core CPU, 120 s measured at load average 4).
    assert all(e.seconds is not None and e.seconds < 60 for e in lab.EXPERIMENTS
               if e.key != "units")


def test_the_cells_experiment_compares_the_three_cells_on_one_long_lag_task():
    configs = dict(lab.get("cells").configs())
    assert [c.model["cell"] for c in configs.values()] == ["simple_rnn", "gru", "lstm"]
    rows = compare.differing_parameters(list(configs.values()))
    assert [row["key"] for row in rows] == ["model.cell"]


def test_the_lag_experiment_puts_the_answer_at_the_first_step():
    for _, config in lab.get("lag").configs():
        assert config.task["lag"] == config.task["seq_len"] - 1


def test_the_dropout_experiment_names_cudnn_in_its_conclusion_from_the_configs():
    experiment = lab.get("dropout")
    summaries = [run(name, decaying(1.0), config=config)
                 for name, config in experiment.configs()]
    text = experiment.conclude(summaries)
    assert "recurrent_dropout=0.3 (layer1: recurrent_dropout=0.3 (cuDNN needs 0))" in text
    assert "cuDNN kernel for no dropout and dropout=0.3" in text


# --- conclusions are computed from the runs ------------------------------------------------


def test_the_cells_conclusion_states_the_measured_gradients_and_their_ratio():
    text = lab.conclude_cells(cells())
    # grad_h = 10**-(T-1-t): step 0 gets 1e-9 of the last step's; 0.5**9 = 2.0e-03; flat: 1.
    assert "1.0e-09 of the last step's in the SimpleRNN" in text
    assert "2.0e-03 in the GRU" in text and "1.0e+00 in the LSTM" in text
    assert ("Compared with the SimpleRNN, the LSTM keeps 1.0 billion times more gradient at "
            "step 0, the GRU 2.0 million times.") in text
    assert "SimpleRNN 12%, GRU 13%, LSTM 90% (chance 12.5%)" in text
    assert "Only the LSTM beat chance." in text


def test_the_cells_conclusion_changes_when_the_numbers_change():
    before = lab.conclude_cells(cells())
    after = lab.conclude_cells(cells(simple=0.01, gru=1.0, lstm=0.5,
                                     accuracies=(0.8, 0.85, 0.1)))
    assert before != after
    assert "1.0e-18 of the last step's in the SimpleRNN" in after
    assert ("Compared with the SimpleRNN, the GRU keeps 1.0e+18 times more gradient at step 0, "
            "the LSTM 2.0e+15 times.") in after
    assert "Only the SimpleRNN and GRU beat chance." in after
    assert "More gradient at step 0 did not decide it" not in after
    reversed_text = lab.conclude_cells(cells(accuracies=(0.9, 0.12, 0.12)))
    assert "Only the SimpleRNN beat chance." in reversed_text
    assert "More gradient at step 0 did not decide it: the LSTM" in reversed_text


def test_a_run_is_judged_against_the_baseline_of_its_own_data_as_its_verdict_is():
    adding = ExperimentConfig.from_dict({"task": {"name": "adding", "seq_len": T}})
    stored = {"value": 0.16, "margin": 0.005, "key": "val_loss", "higher_is_better": False,
              "description": "always answering 0.98"}
    summaries = []
    for name, val_loss in (("SimpleRNN", 0.159), ("GRU", 0.15), ("LSTM", 0.01)):
        summary = run(name, decaying(1.0), config=adding)
        for row in summary.history["epochs"]:
            row["val_loss"] = val_loss
        summary.history["baseline"] = stored
        summaries.append(summary)
    text = lab.conclude_cells(summaries)
    # 0.15 is within 3 standard errors of 1/6 on 400 samples, but beats the 0.16 that
    # always answering the mean of this run's own targets scored.
    assert "(always answering 0.98 scores 0.160)" in text
    assert "Only the GRU and LSTM beat the always-1.0 answer." in text
    levels = [readings.learning_level(s.history["epochs"][-1]["val_loss"], stored)
              for s in summaries]
    assert levels == [readings.LEARNED_NOTHING, readings.LEARNED_A_LITTLE, readings.LEARNED]


def test_the_cells_conclusion_survives_a_diverged_run_and_missing_configs():
    summaries = cells()
    summaries[0] = run("SimpleRNN", [None] * T, status="diverged")
    text = lab.conclude_cells(summaries)
    assert "no finite gradient (the run diverged) in the SimpleRNN" in text
    assert "the LSTM keeps 512 times more gradient at step 0 than the GRU" in text  # 1/0.5**9
    bare = [RunSummary(s.name, None, s.history) for s in cells()]
    assert "Final validation accuracy: SimpleRNN 0.12" in lab.conclude_cells(bare)


def test_the_lag_conclusion_reads_gradient_and_accuracy_against_the_lag():
    def lag_run(lag, ratio, accuracy):
        config = ExperimentConfig.from_dict({"task": {"name": "recall", "seq_len": lag + 1,
                                                      "lag": lag, "n_samples": 1000}})
        return run(f"lag {lag}", [ratio] + [1.0] * lag, accuracy, config, value=lag)

    text = lab.conclude_lag([lag_run(5, 0.2, 1.0), lag_run(10, 3e-3, 0.6),
                             lag_run(20, 4e-7, 0.12)])
    assert "2.0e-01 at lag 5, 3.0e-03 at lag 10, 4.0e-07 at lag 20" in text
    assert "5.7 orders of magnitude less" in text  # log10(0.2 / 4e-7)
    assert "beat chance up to lag 10 and not beyond" in text
    other = lab.conclude_lag([lag_run(5, 0.2, 0.12), lag_run(10, 0.2, 0.11)])
    assert "about the same at every lag" in other and "did not beat chance at any lag" in other


def test_the_lag_conclusion_notices_when_step0_gets_more_gradient_than_the_last_step():
    def lag_run(lag, ratio):
        return run(f"lag {lag}", [ratio] + [1.0] * lag, value=lag)

    text = lab.conclude_lag([lag_run(5, 0.2), lag_run(10, 16.0), lag_run(20, 4.5)])
    assert "At lag 10 and 20 step 0 gets more gradient than the last step" in text
    assert "more gradient than the last step" not in lab.conclude_lag(
        [lag_run(5, 0.2), lag_run(10, 0.1)])


def test_the_dropout_conclusion_calls_out_overfitting_from_the_curves():
    def dropout_run(name, losses, val_losses):
        rows = [{"epoch": e, "loss": loss, "val_loss": val, "seconds": 0.2}
                for e, (loss, val) in enumerate(zip(losses, val_losses), start=1)]
        return RunSummary(name, None, {"epochs": rows})

    overfit = dropout_run("no dropout", [0.3, 0.2, 0.1, 0.07], [0.25, 0.18, 0.2, 0.24])
    steady = dropout_run("recurrent_dropout=0.3", [0.3, 0.2, 0.16, 0.15],
                         [0.25, 0.17, 0.14, 0.13])
    text = lab.conclude_dropout([overfit, steady])
    assert ("no dropout overfits: its validation loss was lowest at epoch 2 (0.18) and rose "
            "to 0.24, while its training loss fell from 0.2 to 0.07.") in text
    assert "recurrent_dropout=0.3 overfits" not in text
    assert "The lowest validation loss is recurrent_dropout=0.3's (0.13)." in text


def test_the_forget_bias_conclusion_uses_the_measured_forget_gate_and_cell_gradient():
    def bias_run(name, f, ratio):
        return run(name, decaying(1.0), grad_c=[ratio] + [1.0] * (T - 1),
                   readings={"gate_means": {"layer0": {"f": f, "i": 0.5}}})

    text = lab.conclude_forget_bias([bias_run("on", 0.81, 2e-2), bias_run("off", 0.55, 1e-4),
                                     bias_run("low", 0.06, 1e-12)])
    assert "on 0.81, off 0.55, low 0.06" in text
    assert "on 2.0e-02, off 1.0e-04, low 1.0e-12" in text
    assert "(on) keeps 20.0 billion times more gradient in its cell state" in text
    flipped = lab.conclude_forget_bias([bias_run("on", 0.81, 1e-12), bias_run("low", 0.06, 2e-2)])
    assert "*less* cell-state gradient" in flipped


def test_the_exploding_conclusion_says_which_run_diverged_and_how_large_the_gradients_got():
    def norms_row(epoch, loss, norm):
        return {"epoch": epoch, "loss": loss,
                "probe": {"weight_grad_norms": {"layer0": {"kernel": norm, "bias/f": 1.0}}}}

    clipped_config = ExperimentConfig.from_dict({"training": {"clipnorm": 1.0}})
    wild = RunSummary("No clipping", ExperimentConfig.default(), {
        "status": "diverged",
        "epochs": [norms_row(1, 4.0, 2.5e5), {"epoch": 2, "loss": math.nan}]})
    tame = RunSummary("clipnorm=1.0", clipped_config, {
        "status": "finished", "epochs": [norms_row(1, 0.3, 31.0), norms_row(2, 0.08, 12.0)]})
    text = lab.conclude_exploding([wild, tame])
    assert "No clipping diverged in epoch 2" in text and "2.5e+05" in text
    assert "clipnorm=1.0 finished all 2 epochs with a final training loss of 0.08" in text
    assert "3.1e+01" in text
    assert "Clipping kept the run finite where the unclipped one blew up." in text
    calm = RunSummary("No clipping", ExperimentConfig.default(), {
        "status": "finished", "epochs": [norms_row(1, 0.5, 400.0)]})
    assert "No run diverged" in lab.conclude_exploding([calm, tame])
    assert "13 times that of clipnorm=1.0" in lab.conclude_exploding([calm, tame])


def test_the_stateful_conclusion_compares_carried_and_reset_state_errors():
    stateless = RunSummary("stateless", None, {"epochs": []},
                           {"stream_mse": 0.02, "persistence_mse": 0.05})
    stateful = RunSummary("stateful", None, {"epochs": []},
                          {"stream_mse_carry": 0.005, "stream_mse_reset": 0.04})
    text = lab.conclude_stateful([stateless, stateful])
    assert "stateless 0.02" in text and "stateful 0.005 carrying its state" in text
    assert "0.04 with reset_state()" in text
    assert "8.0 times higher" in text and "beats the stateless model by 4.0 times" in text
    stateful.readings["stream_mse_reset"] = 0.005
    assert "less than 10%" in lab.conclude_stateful([stateless, stateful])


def test_the_direction_conclusion_reads_where_each_run_meets_the_answer():
    forward = run("forward", decaying(0.1), 0.12, recall_config())
    back = run("go_backwards", decaying(1.0), 0.97, recall_config(go_backwards=True))
    bidirectional_config = ExperimentConfig.from_dict({
        "task": {"name": "recall", "seq_len": T, "lag": T - 1, "n_samples": 1000},
        "model": {"bidirectional": True, "layers": [{"units": 4}]}})
    both = run("Bidirectional", decaying(0.5), 0.99, bidirectional_config)
    text = lab.conclude_direction([forward, back, both])
    assert f"forward reads it {T - 1} steps before its last step" in text
    assert "1.0e-09 of the last step's" in text
    assert "go_backwards reads it at its last step" in text
    assert "Bidirectional's backward half" in text and "2.0e-03" in text
    assert "Only the go_backwards and Bidirectional beat chance." in text


@pytest.mark.parametrize("experiment", lab.EXPERIMENTS, ids=lambda e: e.key)
def test_every_conclusion_handles_runs_with_no_data(experiment):
    empty = [RunSummary(name, config, {"epochs": [], "status": "diverged"})
             for name, config in experiment.configs()]
    text = experiment.conclude(empty)
    assert isinstance(text, str) and text


@pytest.mark.parametrize("experiment", lab.EXPERIMENTS, ids=lambda e: e.key)
def test_every_experiment_draws_its_figures_from_synthetic_runs(experiment):
    summaries = [run(name, decaying(0.5), config=config, grad_c=decaying(0.7),
                     readings={"gate_mean_by_step": {"layer0": {"f": [0.7] * T}},
                               "batch_losses": [[1, 1, 2, 0.3], [1, 2, 2, 0.2]]},
                     value=(experiment.sweep[1][index] if experiment.sweep else None))
                 for index, (name, config) in enumerate(experiment.configs())]
    figures = experiment.make_figures(summaries)
    assert list(figures) == list(experiment.figures)
    assert all(fig.data for fig in figures.values())


# --- real, tiny runs -----------------------------------------------------------------------

TINY_ADDING = {"task": {"name": "adding", "seq_len": 8, "n_samples": 48},
               "model": {"layers": [{"units": 3}]},
               "training": {"epochs": 5, "batch_size": 16}}


def test_the_cells_experiment_runs_for_real_and_concludes_on_each_cell(tmp_path):
    experiment = dataclasses.replace(lab.get("cells"), base=TINY_ADDING)
    events = []
    summaries, conclusion = lab.run_experiment(experiment, events.append, epochs=1,
                                               out_dir=tmp_path)
    assert [s.name for s in summaries] == ["SimpleRNN", "GRU", "LSTM"]
    assert [s.config.model["cell"] for s in summaries] == ["simple_rnn", "gru", "lstm"]
    assert all(len(s.history["epochs"]) == 1 for s in summaries)
    for summary in summaries:
        assert f"in the {summary.name}" in conclusion
        ratio = compare.step0_ratio(summary.history)
        assert f"{ratio:.1e}" in conclusion  # the measured number, not a canned one
    # The baseline is measured on the run's own validation set: always answering the
    # mean of its targets scores their variance.
    targets = tasks.make(summaries[0].config.task).y_val.astype(np.float64)
    mean, variance = targets.mean(), ((targets - targets.mean()) ** 2).mean()
    assert f"always answering {mean:.2f} scores {variance:.3f}" in conclusion
    assert {e.index for e in events if e.kind == "training"} == {0, 1, 2}
    assert (tmp_path / "conclusion.txt").read_text().strip() == conclusion
    figures = sorted(p.name for p in (tmp_path / "comparison").glob("*.html"))
    assert figures == ["gradient_flow.html", "loss_curves.html", "saturation.html",
                       "step0_gradient.html"]


def test_the_stateful_experiment_measures_the_stream_with_and_without_resets():
    tiny = {"task": {"name": "sine", "seq_len": 4, "n_samples": 64, "stream": True},
            "model": {"layers": [{"units": 3}]},
            "training": {"epochs": 1, "batch_size": 8}}
    experiment = dataclasses.replace(lab.get("stateful"), base=tiny)
    summaries, conclusion = lab.run_experiment(experiment)
    stateless, stateful = summaries
    assert set(stateless.readings) >= {"stream_mse", "persistence_mse"}
    assert set(stateful.readings) >= {"stream_mse_carry", "stream_mse_reset"}
    assert f"{stateful.readings['stream_mse_carry']:.3g}" in conclusion
    assert f"{stateless.readings['stream_mse']:.3g}" in conclusion


# --- over seeds ----------------------------------------------------------------------------


def adding_group(name, cell, losses, ratio=1e-2):
    """A seed group of adding runs whose seed k ends at validation loss losses[k]."""
    from lstm_explorer.seeds import SeedGroup

    config = ExperimentConfig.from_dict({"task": {"name": "adding", "seq_len": T},
                                         "model": {"cell": cell}})
    baseline = {"value": 0.167, "description": "always answering 1.0", "key": "val_loss",
                "higher_is_better": False, "margin": 0.02}
    runs = [RunSummary(f"{name}, seed {seed}", config.with_values({"training.seed": seed}),
                       {"epochs": [{"epoch": 1, "val_loss": loss,
                                    "probe": {"grad_h": {"layer0": decaying(ratio ** (1 / 9))}}}],
                        "status": "finished", "baseline": baseline})
            for seed, loss in enumerate(losses)]
    return SeedGroup.of(name, runs)


def test_the_cells_conclusion_over_seeds_reads_the_medians_and_names_each_seeds_outcome():
    groups = [adding_group("SimpleRNN", "simple_rnn", [0.172, 0.175, 0.176, 0.174, 0.179], 1e-8),
              adding_group("GRU", "gru", [0.0005, 0.0007, 0.0004, 0.0005, 0.002], 0.15),
              adding_group("LSTM", "lstm", [0.006, 0.0015, 0.167, 0.0055, 0.0058], 3e-3)]
    text = lab.conclude_over_seeds(lab.get("cells"), groups)
    assert text.startswith("Medians over 5 seeds (seeds 0 to 4 of training.seed, the same "
                           "data for each). At the last epoch the gradient reaching step 0 is "
                           "1.0e-08 of the last step's in the SimpleRNN")
    # The median LSTM learned, so the cells' own sentence says it beat the baseline...
    assert "Validation loss (mse) after 1 epochs: SimpleRNN 0.175, GRU 0.0005, LSTM 0.0058" in text
    # ...and the seeds' part says which seed did not, and what is beyond the spread.
    assert "LSTM learned with seeds 0, 1, 3 and 4; learned nothing with seed 2." in text
    assert "GRU lower than SimpleRNN" in text
    assert text.endswith("Within the spread between seeds: GRU and LSTM: this difference may "
                         "be one seed's luck.")


def test_the_experiments_state_their_conclusion_over_seeds_where_the_budget_allows():
    from lstm_explorer import seeds

    counts = {experiment.key: experiment.seeds for experiment in lab.EXPERIMENTS}
    assert counts["cells"] >= 3  # the experiment one seed was measured to mislead
    assert counts["dropout"] == 1  # one seed takes half a minute already
    assert all(1 <= count <= seeds.MAX_SEEDS for count in counts.values())


def test_an_experiment_over_seeds_trains_every_variant_per_seed(tmp_path):
    experiment = dataclasses.replace(lab.get("cells"), base=TINY_ADDING,
                                     variants=lab.get("cells").variants[::2])
    events = []
    groups, conclusion = lab.run_experiment(experiment, events.append, epochs=1,
                                            out_dir=tmp_path, seeds=2)
    assert [group.name for group in groups] == ["SimpleRNN", "LSTM"]
    assert [[run.name for run in group.runs] for group in groups] == [
        ["SimpleRNN, seed 0", "SimpleRNN, seed 1"], ["LSTM, seed 0", "LSTM, seed 1"]]
    assert [run.config.training["seed"] for run in groups[1].runs] == [0, 1]
    assert (tmp_path / "LSTM" / "seed-1" / "history.json").exists()
    assert {e.index for e in events if e.kind == "training"} == {0, 1, 2, 3}
    assert conclusion.startswith("Medians over 2 seeds (seeds 0 and 1 of training.seed")
    assert "Final validation loss over 2 seeds" in conclusion
    assert (tmp_path / "conclusion.txt").read_text().strip() == conclusion
    loss = json.loads((tmp_path / "comparison" / "loss_curves.json").read_text())
    assert sum(trace.get("fill") == "toself" for trace in loss["data"]) >= 2


@pytest.mark.parametrize("argv,fragment", [
    (["cells", "--seeds", "0"], "--seeds=0: must be an integer from 1 to 20"),
    (["cells", "--seeds", "many"], "--seeds='many': must be an integer from 1 to 20"),
    (["cells", "--seeds"], "--seeds=None: expects a value after it"),
])
def test_the_lab_command_refuses_a_bad_seeds_count_naming_it(argv, fragment, capsys):
    assert lab.main(argv) == 2
    assert fragment in capsys.readouterr().err


# --- what a character model's units track ---------------------------------------------------


def tiny_chars(epochs=1):
    return lab.get("units").base_config().with_values({
        "task.n_samples": 200, "task.seq_len": 30, "layer.units": 8,
        "training.epochs": epochs})


def test_units_experiment_trains_the_chars_preset_short_then_long_over_one_seed():
    experiment = lab.get("units")
    named = experiment.configs()
    assert [name for name, _ in named] == ["1 epoch", "6 epochs"]
    assert all(config.task["name"] == "chars" for _, config in named)
    assert [config.training["epochs"] for _, config in named] == [1, 6]
    # Both runs read the same text, so the probe's windows are the same.
    assert named[0][1].task == named[1][1].task
    assert experiment.measure is lab.measure_units and experiment.seeds == 1
    assert experiment.seconds > 0


def test_measure_units_ranks_the_trained_model_against_the_model_training_started_from():
    from lstm_explorer import model as model_module
    from lstm_explorer.datasets import chars, units
    from lstm_explorer.trace import Tracer
    from lstm_explorer.training import Trainer

    trainer = Trainer(tiny_chars())
    result = trainer.run()
    found = lab.measure_units(result)
    # Validation windows, up to MEASURED_WINDOWS: more than the probe's few.
    inputs = result.data.x_val[:lab.MEASURED_WINDOWS]
    assert len(inputs) > len(result.trace.inputs)
    texts = chars.texts_of_inputs(inputs)
    assert found["units_windows"] == len(texts) and found["units_chars"] == 30 * len(texts)
    targets = result.data.y_val[:len(inputs)]
    trained = Tracer(result.model)(inputs, targets, eager=True).layers[0]
    rebuilt = model_module.build(result.config)
    untrained = Tracer(rebuilt)(inputs, targets, eager=True).layers[0]
    # The rebuilt untrained model is the one the training started from.
    probe = Tracer(rebuilt)(result.data.probe_x, result.data.probe_y, eager=True)
    np.testing.assert_allclose(probe.layers[0].values["c"],
                               trainer.initial_trace.layers[0].values["c"], atol=1e-5)
    for state in ("c", "h"):
        after = units.best_units(trained.values[state], texts)
        before = units.best_units(untrained.values[state], texts)
        for name, best in after.items():
            if best is None:
                assert f"units_{state}_{name}" not in found
                continue
            assert found[f"units_{state}_{name}"] == pytest.approx(abs(best.r))
            assert found[f"units_{state}_{name}_unit"] == best.unit
            assert found[f"units_{state}0_{name}"] == pytest.approx(abs(before[name].r))
    assert 0.0 <= found["units_step_position_in_line"] <= 1.0
    text = lab.conclude_units([RunSummary("1 epoch", result.config, result.history, found)])
    assert text.startswith(f"Best unit per pattern over {len(texts)} windows")
    assert "untrained → 1 epoch:" in text


def test_measure_units_reads_nothing_without_a_trace():
    assert lab.measure_units(types.SimpleNamespace(trace=None)) == {}


def unit_run(name, values):
    """A run whose readings hold `{pattern: (state, after, before, unit, step)}`."""
    found = {"units_windows": 8.0, "units_chars": 800.0}
    for pattern, (state, after, before, unit, step) in values.items():
        other = "h" if state == "c" else "c"
        found |= {f"units_{state}_{pattern}": after, f"units_{state}0_{pattern}": before,
                  f"units_{state}_{pattern}_unit": unit,
                  # The other state follows less well, so the conclusion speaks of `state`.
                  f"units_{other}_{pattern}": after / 2, f"units_{other}0_{pattern}": 0.0,
                  f"units_{other}_{pattern}_unit": 99.0, f"units_step_{pattern}": step}
    return RunSummary(name, {"task": {"name": "chars"}}, {"epochs": []}, found)


def test_conclude_units_needs_r_of_one_half_and_a_clear_rise_over_the_untrained_model():
    text = lab.conclude_units([unit_run("6 epochs", {
        "bracket_depth": ("h", 0.60, 0.31, 12.0, 0.1),      # found, by h
        "indentation": ("c", 0.55, 0.45, 3.0, 0.5),        # high but barely rose
        "in_string": ("c", 0.23, 0.22, 5.0, 0.05),         # low
        "position_in_line": ("c", 0.49, 0.10, 4.0, 0.1),   # rose, but below 0.5
    })])
    found = text.split(" Found after 6 epochs ")[1].split(" Not found: ")[0]
    assert "Bracket depth (h unit 12, |r| 0.60)" in found
    assert "Indentation" not in found and "Position" not in found
    missed = text.split(" Not found: ")[1]
    assert "Inside a string literal (best |r| 0.23, untrained 0.22)" in missed
    assert "Indentation (best |r| 0.55, untrained 0.45)" in missed
    assert "Position in the line (best |r| 0.49, untrained 0.10)" in missed
    assert "Bracket depth: h unit 12, 0.31 → 0.60" in text
    # Only indentation drifts with the step (0.5 ≥ 0.3) here.
    assert "and Indentation also correlates with the step number itself (|r| 0.50)" in text
    assert (" Not measured, as constant over these windows (none occurs in them): Inside a "
            "comment and Just after a newline. Caveat:") in text


def test_conclude_units_says_when_nothing_was_found_and_when_nothing_was_measured():
    text = lab.conclude_units([unit_run("1 epoch", {"in_string": ("c", 0.3, 0.2, 1.0, 0.0)}),
                               unit_run("6 epochs", {"in_string": ("c", 0.4, 0.2, 1.0, 0.0)})])
    assert "untrained → 1 epoch → 6 epochs: Inside a string literal: c unit 1, 0.20 → 0.30 → " \
        "0.40." in text
    assert "No unit was found after 6 epochs" in text and "Caveat" not in text
    assert lab.conclude_units([run("x", [1.0])]).startswith("No run left a trace")
    # A median over seeds (unit 4.5) names no unit.
    median = unit_run("6 epochs", {"in_string": ("c", 0.7, 0.2, 4.5, 0.0)})
    assert "Inside a string literal (c, |r| 0.70)" in lab.conclude_units([median])


def test_the_command_line_runs_the_units_experiment_into_its_folder(monkeypatch, tmp_path,
                                                                     capsys):
    calls = []

    def fake(experiment, **options):
        calls.append((experiment.key, options))
        return [], "concluded"

    monkeypatch.setattr(lab, "run_experiment", fake)
    assert lab.main(["units", "--out", str(tmp_path)]) == 0
    assert calls == [("units", {"seeds": 1, "out_dir": tmp_path / "units"})]
    assert "== units: What do a character model's units track?" in capsys.readouterr().out
