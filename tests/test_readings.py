"""The verdict: learned or not against the trivial baseline, the gradient, saturation, divergence."""

import math

import numpy as np
import pytest

from lstm_explorer import export, readings, tasks
from lstm_explorer.config import ExperimentConfig

ADDING = {"value": 0.167, "description": "always answering 1.0", "key": "val_loss",
          "higher_is_better": False, "margin": 0.02, "samples": 400, "loss": 0.167}
RECALL = {"value": 0.14, "description": "always answering symbol 3, the most frequent",
          "key": "val_accuracy", "higher_is_better": True, "margin": 0.05, "samples": 200}


def history(*val_losses, baseline=ADDING, status="finished", grad_h=None, saturation=None,
            key="val_loss"):
    """One row per value, each with the same gradient norms and gate saturation."""
    rows = []
    for epoch, value in enumerate(val_losses, start=1):
        probe = {"grad_h": {"layer0": list(grad_h or [0.5, 1.0])}}
        if saturation is not None:
            probe["saturation"] = {"layer0": saturation}
        rows.append({"epoch": epoch, "loss": value, key: value, "probe": probe})
    found = {"epochs": rows, "status": status}
    if baseline is not None:
        found["baseline"] = baseline
    return found


def test_a_loss_under_half_the_baseline_reads_learned_with_how_many_times_lower():
    text = readings.verdict(None, history(0.15, 0.012))
    assert text.startswith("Learned: validation loss 0.012, 14× lower than always answering "
                           "1.0 (0.167).")


def test_a_loss_that_beats_the_baseline_by_more_than_its_margin_learned_a_little():
    text = readings.verdict(None, history(0.12))
    assert text.startswith("Learned a little: validation loss 0.12, 1.4× lower than always "
                           "answering 1.0 (0.167).")


def test_a_loss_within_the_margin_learned_nothing_and_one_above_it_is_worse():
    assert readings.verdict(None, history(0.16)).startswith(
        "Learned nothing: validation loss 0.16, no better than always answering 1.0 (0.167).")
    assert readings.verdict(None, history(0.25)).startswith(
        "Learned nothing: validation loss 0.25, worse than always answering 1.0 (0.167).")


def test_the_last_finite_score_is_judged_even_when_the_last_epoch_has_none():
    rows = history(0.15, 0.012)
    rows["epochs"].append({"epoch": 3, "val_loss": None})
    assert "validation loss 0.012" in readings.verdict(None, rows)


@pytest.mark.parametrize("accuracy, level", [
    (0.9, readings.LEARNED),           # error 0.1, under half the baseline's 0.86
    (0.3, readings.LEARNED_A_LITTLE),  # above 0.14 + 0.05
    (0.17, readings.LEARNED_NOTHING),  # within the margin
    (None, None),
    (math.nan, None),
])
def test_an_accuracy_learned_when_its_error_rate_is_halved(accuracy, level):
    assert readings.learning_level(accuracy, RECALL) == level


def test_an_accuracy_verdict_gives_the_score_against_the_baselines():
    text = readings.verdict(None, history(0.5, 0.9, baseline=RECALL, key="val_accuracy"))
    assert text.startswith("Learned: validation accuracy 90%, against 14% for always "
                           "answering symbol 3, the most frequent.")
    text = readings.verdict(None, history(0.13, baseline=RECALL, key="val_accuracy"))
    assert text.startswith("Learned nothing: validation accuracy 13%, no better than always "
                           "answering symbol 3, the most frequent (14%).")


def test_the_gradient_sentence_says_whether_it_vanishes_flows_or_explodes():
    vanishing = readings.verdict(None, history(0.16, grad_h=[1e-6, 1e-3, 1.0]))
    assert ("The gradient reaching step 0 is 10⁻⁶ of the one at the last step: the first "
            "steps barely change the weights (a vanishing gradient).") in vanishing
    flowing = readings.verdict(None, history(0.01, grad_h=[0.1, 0.5, 1.0]))
    assert ("The gradient reaching step 0 is 0.1× the one at the last step: it flows back "
            "through all 3 steps.") in flowing
    exploding = readings.verdict(None, history(0.16, grad_h=[1e3, 1.0, 1.0]))
    assert "is 10³ times the one at the last step: it grows on the way back" in exploding
    nothing = readings.verdict(None, history(0.16, grad_h=[0.0, 1.0]))
    assert "No gradient at all reaches step 0" in nothing


def test_the_gradient_of_another_layer_is_named():
    rows = history(0.01)
    for row in rows["epochs"]:
        row["probe"]["grad_h"] = {"layer0/forward": [1e-4, 1.0], "layer0/backward": [1.0, 1.0]}
    assert "The gradient reaching step 0 in layer0/forward is 10⁻⁴" in readings.verdict(
        None, rows)
    assert "in layer0/backward is 1×" in readings.verdict(None, rows, layer="layer0/backward")


def test_saturated_gates_are_named_only_when_most_of_their_values_are():
    calm = readings.verdict(None, history(0.01, saturation={"i": 0.2, "f": 0.49, "o": 0.1}))
    assert "saturated" not in calm
    text = readings.verdict(None, history(0.01, saturation={"i": 0.72, "f": 0.65, "o": 0.1}))
    assert text.endswith("Most values of the input (72%) and forget (65%) gates are saturated "
                         "(near 0 or 1), where a gate's own weights get almost no gradient.")


def test_a_diverged_run_says_in_which_epoch_and_what_to_try():
    rows = history(0.2, math.nan, status="diverged")
    text = readings.verdict(None, rows)
    assert text.startswith("Diverged in epoch 2: the loss became NaN or infinite")
    assert "exploding gradients" in text and "clipnorm 1.0" in text


def test_a_stopped_run_says_after_how_many_of_the_epochs_asked():
    config = ExperimentConfig.from_dict({"training": {"epochs": 10}})
    text = readings.verdict(config, history(0.16, 0.15, 0.14, status="stopped"))
    assert text.startswith("Stopped after 3 of 10 epochs. Learned")
    assert readings.verdict(None, history(status="stopped")) == (
        "Stopped after 0 epochs. No epoch finished, so there is nothing to judge yet.")


def test_without_a_baseline_the_verdict_gives_the_loss_and_says_there_is_nothing_to_compare():
    text = readings.verdict(None, history(0.2, 0.05, baseline=None))
    assert text.startswith("After 2 epochs the validation loss is 0.05; no trivial baseline")
    assert readings.verdict(None, history(0.05, baseline=None), baseline=ADDING).startswith(
        "Learned: validation loss 0.05, 3.3× lower")


def test_a_saved_run_gives_the_same_verdict_when_read_back(tmp_path):
    rows = history(0.15, 0.012, saturation={"i": 0.9, "f": 0.1, "o": 0.1})
    export.write_history(tmp_path, rows)
    assert readings.verdict(None, export.read_history(tmp_path)) == readings.verdict(None, rows)


def test_a_real_training_keeps_the_baseline_of_its_own_validation_data():
    from lstm_explorer.training import Trainer

    config = ExperimentConfig.from_dict({"task": {"n_samples": 80, "seq_len": 6, "seed": 4},
                                         "model": {"layers": [{"units": 3}]},
                                         "training": {"epochs": 2}})
    result = Trainer(config).run()
    baseline = result.history["baseline"]
    # Computed here from the generator itself: the last 20% of the samples validate.
    _, targets = tasks.adding_problem(80, 6, np.random.default_rng(4))
    validation = targets[64:, 0].astype(np.float64)
    assert baseline["key"] == "val_loss" and baseline["samples"] == 16
    assert baseline["value"] == pytest.approx(validation.var())
    text = readings.verdict(config, result.history)
    assert f"({validation.var():.3g})" in text
    assert f"validation loss {result.history['epochs'][-1]['val_loss']:.3g}" in text
