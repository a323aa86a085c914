"""Repeat with seeds in AppTest: a sweep over seeds on Compare Runs, "Repeat over seeds",
Build & Train's way there, and the Lab's Seeds box; what the pages show."""

from __future__ import annotations

import re

from lstm_explorer import compare, lab, seeds
from lstm_explorer.training import Trainer
from lstm_explorer.ui import batch, compare_view, lab_view, seeds_view
from lstm_explorer.ui.state import describe_config
from tests.app.conftest import TINY, explorer, figures, new_app, no_exceptions, text
from tests.app.test_compare_lab import (
    COMPARE,
    LAB,
    legend_names,
    markdown_tables,
    tiny_config,
    wait_for_batch,
)

BAND = re.compile(r"^\d[\d.e+-]* \(\d[\d.e+-]*–\d[\d.e+-]*\)$")  # "0.81 (0.75–0.87)"


def band_names(figure: dict) -> list[str]:
    """The traces drawn as filled bands (a seed group's min–max)."""
    return [trace["name"] for trace in figure["data"] if trace.get("fill") == "toself"]


def test_a_sweep_over_seeds_keeps_one_run_per_value_with_bands_and_a_verdict():
    at = new_app({**TINY, "training.epochs": "1"})
    at.switch_page(COMPARE).run()
    seeds_box = at.number_input(key=compare_view.SEEDS_KEY)
    assert seeds_box.value == 1 and "initial weights" in seeds_box.help
    assert "the data stay the same" in seeds_box.help
    seeds_box.set_value(2).run()
    assert "Each value is trained over 2 seeds" in " ".join(c.value for c in at.caption)
    at.text_input(key=compare_view.VALUES_KEY).set_value("2,3").run()
    at.button(key=compare_view.RUN_BUTTON).click().run()
    no_exceptions(at)
    job = explorer(at).batch.job
    # The progress line names the value and the seed of the run it trains, of 2 × 2.
    assert job.names == ["layer.units=2, seed 0", "layer.units=2, seed 1",
                         "layer.units=3, seed 0", "layer.units=3, seed 1"]
    assert batch.progress_text(batch.BatchSnapshot(
        status=batch.RUNNING, index=2, total=4, name=job.names[2])).startswith(
        "Run 3 of 4 (layer.units=3, seed 0)")
    at = wait_for_batch(at)
    no_exceptions(at)

    # One session run per value, not per seed: the group, with its median seed's model.
    session = explorer(at)
    names = [run.name for run in session.runs]
    assert names == ["run 1: layer.units=2, median of 2 seeds",
                     "run 2: layer.units=3, median of 2 seeds"]
    for run in session.runs:
        assert run.group.seeds == [0, 1] and len(run.group.runs) == 2
        median = run.group.runs[batch.median_seed(run.group)]
        assert run.result is not None and run.result.history is median.history
        assert run.arrays
    assert at.multiselect(key=compare_view.RUNS_KEY).value == names

    # What differs: the units, then the result as median (min–max) over the seeds.
    (table,) = [rows for rows in markdown_tables(at) if rows[0][0] == "parameter"]
    assert table[0] == ["parameter", "setting", *names]
    assert table[1][:4] == ["layer1.units", "Units", "2", "3"]
    assert table[2][0] == "result" and "median (min–max) over 2 seeds" in table[2][1]
    assert all(BAND.match(cell) for cell in table[2][2:]), table[2]

    # The conclusion says whether the difference is larger than the spread between seeds,
    # in the box of that colour, with the values of the library's own comparison.
    expected = compare.difference_table(
        [run.group for run in session.runs])  # the same groups, under their own names
    assert expected["beyond_spread"] in (True, False)
    box = text(at, "success") if expected["beyond_spread"] else text(at, "warning")
    assert "Final validation loss over 2 seeds (seeds 0 and 1), median (min–max): " \
           "layer.units=2 " in box
    if expected["beyond_spread"]:
        assert "the difference is larger than the spread between seeds" in box
    else:
        assert ("within the spread between seeds: this difference may be one seed's luck"
                in box)

    # The figures draw each value's median with a band over its seeds, and error bars.
    charts = figures(at)
    loss = charts["Loss of each run"]
    assert legend_names(loss) == names
    assert {f"{name} (range)" for name in names} <= set(band_names(loss))
    flow = charts["Gradient flow through time, layer 1: runs compared"]
    assert band_names(flow) == [f"{name} (range)" for name in names]
    result = charts["Result and gradient against layer.units"]
    assert all(trace.get("error_y", {}).get("type") == "data" for trace in result["data"])
    assert "points: median of 2 seeds, bars: min–max" in str(result["layout"]["title"])


def test_repeat_over_seeds_from_a_run_gives_the_verdict_over_its_seeds():
    at = new_app({**TINY, "training.epochs": "1"})
    session = explorer(at)
    result = Trainer(tiny_config(**{"training.epochs": 1})).run()
    session.add_run(describe_config(result.config), result.config, result.history,
                    result.trace.to_arrays(), result)

    # Build & Train's verdict of a single run leads to the repeat.
    at.run()
    no_exceptions(at)
    links = [link for link in at.get("page_link") if link.proto.label == "Repeat over seeds"]
    assert links and links[0].proto.page == "compare_runs"

    at.switch_page(COMPARE).run()
    no_exceptions(at)
    what = at.selectbox(key=seeds_view.REPEAT_WHAT_KEY)
    assert what.value == "run 1: lstm 4 on adding"  # the run just trained
    at.number_input(key=seeds_view.REPEAT_SEEDS_KEY).set_value(2).run()
    assert "Trains seeds 0 to 1 of training.seed: 2 runs of 1 epoch" in " ".join(
        caption.value for caption in at.caption)
    at.button(key=seeds_view.REPEAT_BUTTON).click().run()
    no_exceptions(at)
    assert explorer(at).batch.job.names == ["lstm 4 on adding, seed 0",
                                            "lstm 4 on adding, seed 1"]
    at = wait_for_batch(at)
    no_exceptions(at)

    group_run = explorer(at).runs[-1]
    assert group_run.name == "run 2: lstm 4 on adding, median of 2 seeds"
    verdict = seeds.verdict(group_run.group)
    assert verdict.startswith("Over 2 seeds (seeds 0 and 1 of training.seed; the same data)")
    shown = text(at, "success") + text(at, "warning")
    assert f"**Over the seeds.** {verdict}" in shown
    band = figures(at)["Validation loss over seeds"]
    assert band_names(band) == ["lstm 4 on adding (range)"]
    assert "median of 2 seeds, band: min–max" in str(band["layout"]["title"])
    (outcomes,) = [rows for rows in markdown_tables(at) if rows[0][1:] == ["seed 0", "seed 1"]]
    assert outcomes[1][0] == "lstm 4 on adding"
    assert all(re.match(r"^learned( a little| nothing)? · \d", cell) for cell in outcomes[1][1:])

    # Build & Train now shows the verdict over the seeds, and no repeat link for it.
    at.switch_page("pages/build_train.py").run()
    no_exceptions(at)
    assert verdict in text(at, "success") + text(at, "warning")
    assert not [link for link in at.get("page_link") if link.proto.label == "Repeat over seeds"]


def test_the_runs_chosen_on_compare_repeat_over_seeds_and_are_compared_by_their_spread():
    at = new_app({**TINY, "training.epochs": "1"})
    session = explorer(at)
    for units in (2, 4):
        result = Trainer(tiny_config(**{"training.epochs": 1, "layer1.units": units})).run()
        session.add_run(describe_config(result.config), result.config, result.history,
                        result.trace.to_arrays(), result)
    at.switch_page(COMPARE).run()
    at.number_input(key=seeds_view.REPEAT_SEEDS_KEY).set_value(2).run()
    no_exceptions(at)
    button = at.button(key="repeat_selection")
    assert button.label == "Repeat these 2 runs over 2 seeds" and not button.disabled
    button.click().run()
    no_exceptions(at)
    assert explorer(at).batch.job.names == [
        "layer1.units=2, seed 0", "layer1.units=2, seed 1",
        "layer1.units=4, seed 0", "layer1.units=4, seed 1"]
    at = wait_for_batch(at)
    no_exceptions(at)
    groups = [run.group for run in explorer(at).runs[-2:]]
    assert [run.name for run in explorer(at).runs[-2:]] == [
        "run 3: layer1.units=2, median of 2 seeds", "run 4: layer1.units=4, median of 2 seeds"]
    # The new groups are what Compare shows now, with the spread's conclusion.
    assert at.multiselect(key=compare_view.RUNS_KEY).value == [
        "run 3: layer1.units=2, median of 2 seeds", "run 4: layer1.units=4, median of 2 seeds"]
    sentence = seeds.compare_groups(groups).sentence
    assert sentence in text(at, "success") + text(at, "warning") + text(at, "info")
    assert any(band_names(figure) for figure in figures(at).values())
    # A seed group cannot be repeated again from the selection: the button says why.
    assert at.button(key="repeat_selection").disabled


def test_the_lab_runs_each_experiment_over_its_own_seeds_unless_told_otherwise():
    at = new_app()
    at.switch_page(LAB).run()
    no_exceptions(at)
    for experiment in lab.EXPERIMENTS:
        box = at.number_input(key=lab_view.SEEDS_KEY.format(key=experiment.key))
        assert box.value == experiment.seeds, experiment.key
        assert box.max == lab_view.max_seeds(experiment)
    captions = " ".join(caption.value for caption in at.caption)
    assert "3 runs (SimpleRNN, GRU, LSTM) × 3 seeds, 10 epochs each; about 60 s" in captions
    assert "3 runs (no dropout, dropout=0.3, recurrent_dropout=0.3), 40 epochs" in captions

    # Changing the box changes the plan and its time at once, and what Run trains.
    # (The exploding-gradients experiment: its runs are among the Lab's quickest.)
    at.number_input(key="lab_seeds_exploding").set_value(2).run()
    at.number_input(key=lab_view.EPOCHS_KEY).set_value(1).run()
    captions = " ".join(caption.value for caption in at.caption)
    assert "2 runs (No clipping, With clipnorm=1.0) × 2 seeds, 1 epochs each (the " \
           "experiment has 6); about 2 s on a 2-core CPU." in captions
    at.button(key="lab_run_exploding").click().run()
    no_exceptions(at)
    job = explorer(at).batch.job
    assert job.seeds == 2 and job.names == [
        "No clipping, seed 0", "No clipping, seed 1",
        "With clipnorm=1.0, seed 0", "With clipnorm=1.0, seed 1"]
    at = wait_for_batch(at)
    no_exceptions(at)

    conclusion = text(at, "success")
    assert "What the runs measured" in conclusion
    assert "Medians over 2 seeds (seeds 0 and 1 of training.seed, the same data for each)" \
        in conclusion
    assert ("larger than the spread between seeds" in conclusion
            or "may be one seed's luck" in conclusion)
    (outcomes,) = [rows for rows in markdown_tables(at) if rows[0][1:] == ["seed 0", "seed 1"]]
    assert [row[0] for row in outcomes[1:]] == ["No clipping", "With clipnorm=1.0"]
    assert "Which seeds learned" in " ".join(caption.value for caption in at.caption)
    session = explorer(at)
    assert [run.name for run in session.runs] == [
        "run 1: No clipping, median of 2 seeds (lab 4)",
        "run 2: With clipnorm=1.0, median of 2 seeds (lab 4)"]
    # The seeds' spread, drawn behind the median line of the run that stayed finite.
    loss = figures(at)["Loss of each run"]
    assert "With clipnorm=1.0 (range)" in band_names(loss)
