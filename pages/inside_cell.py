"""Inside the Cell: scrub through one probe sequence and read every gate with its numbers."""

import streamlit as st

from lstm_explorer import cell_view, figures
from lstm_explorer.ui import char_view, folder_runs, frame, panels, run_picker
from lstm_explorer.ui.state import session

CONTEXT_MIN_WIDTH = 380  # pixels: what the chart of a unit through time needs

frame.require_frame()
explorer = session()
explorer.collect()

# A running training is not offered: its weights must hold still to be read.
shown = run_picker.pick_run(explorer, "cell_run", running_too=False,
                            usable=run_picker.traced, folder_usable=folder_runs.has_trace)

run_picker.rerun_when_training_ends(explorer)  # then the new run is offered here

if shown is None:
    if explorer.running:
        st.info("A training is running; the cell view opens once it has finished (or "
                "after you press Stop). Its weights must hold still to be read.",
                icon=":material/hourglass_top:")
    elif explorer.runs:
        last = explorer.runs[-1]
        st.info(f"No run has a trace yet: {last.name} ended "
                f"({last.history.get('status', '')}) before its first epoch was traced. "
                "Train again on the Build & Train page: after one epoch, this page shows "
                "what every gate did at every step.", icon=":material/info:")
    else:
        st.info("No trained run yet. Train a model on the Build & Train page: after one "
                "epoch, this page shows what every gate did at every step.",
                icon=":material/info:")
    st.page_link("pages/build_train.py", label="Go to Build & Train",
                 icon=":material/model_training:")
else:
    if explorer.running:
        st.caption("A training is running: it is offered here once it has finished (its "
                   "weights must hold still to be read).")
    if shown.entry is not None:  # a run of the runs folder: its files are read
        weights, why_not = folder_runs.model_weights(shown.entry)
        loaded = folder_runs.load(shown.entry)
        arrays, config = loaded.arrays, loaded.experiment_config()
        if weights is None or not arrays:
            st.info(f"**{shown.name}** cannot be shown here: "
                    f"{why_not or 'its trace could not be read'}.", icon=":material/info:")
    else:
        run = shown.run
        names = [kept.name for kept in explorer.runs]
        cache = {name: weights for name, weights in explorer.cache.get("weights", {}).items()
                 if name in names}  # forget the weights of runs no longer kept
        if run.name not in cache:
            cache[run.name] = cell_view.model_weights(run.result.model)
        explorer.cache["weights"] = cache
        weights = cache[run.name]
        arrays, config = run.arrays, run.config
if shown is not None and weights is not None and arrays:
    keys = [key for key in weights.layers if f"{key}/h" in arrays]

    batch, steps, _ = arrays[f"{keys[0]}/h"].shape
    # The run shown before may have had more samples, layers, units or steps.
    run_picker.keep_in_range("cell_sample", 0, batch - 1)
    run_picker.keep_in_range("cell_step", 0, steps - 1)
    run_picker.forget_unless_offered("cell_layer", keys)
    pick_sample, pick_layer, pick_unit = st.columns(3)
    sample = pick_sample.slider("Probe sample", 0, batch - 1, 0, key="cell_sample",
                                help="Which sequence of the fixed probe batch to show.")
    key = pick_layer.selectbox("Layer", keys, format_func=panels.layer_label,
                               key="cell_layer")
    units = arrays[f"{key}/h"].shape[2]
    run_picker.keep_in_range("cell_unit", 0, units - 1)
    unit = pick_unit.slider("Unit for the equations", 0, units - 1, 0, key="cell_unit")
    step = st.slider("Time step (processing order)", 0, steps - 1, steps - 1,
                     key="cell_step",
                     help="Drag to move through the sequence; every panel follows.")

    view = cell_view.step_view(arrays, weights, key, sample, step)
    panels.chart(cell_view.step_figure(view), "cell-bars")
    st.markdown(f"**Input at this step:** {cell_view.input_text(view)}  \n"
                f"**The {cell_view.CELL_NAMES[view.cell]} equations for unit {unit}** (gate "
                "and state values from the trace, pre-activations from the layer's weights)")
    if view.h_prev is None:
        st.caption("This layer is stateful: the state it started this batch with is not "
                   "recorded, so terms that need it show '?'.")
    # The equations keep their own width; the chart beside them takes what is left, and
    # goes under them where that is under CONTEXT_MIN_WIDTH (a narrow window, a zoomed
    # page). Streamlit 1.67 gives a keyed container the class st-key-KEY and wraps it in
    # the stLayoutWrapper that is the row's flex item: the minimum goes on that wrapper.
    st.html('<style>[data-testid="stLayoutWrapper"]:has(> .st-key-unit-through-time) '
            f'{{ min-width: min({CONTEXT_MIN_WIDTH}px, 100%); }}</style>')
    row = st.container(horizontal=True, gap="large")
    numbers = row.container(width="content")
    context_column = row.container(width="stretch", key="unit-through-time")
    with numbers:
        st.latex(cell_view.equations_latex(view, unit, cell_view.PRESENTER_EQUATION_WIDTH
                                           if explorer.presenter else cell_view.EQUATION_WIDTH))
    with context_column:
        quantity = "c" if view.cell == "lstm" else "h"
        index = int(key.split("/")[0].removeprefix("layer"))
        direction = "backward" if key.endswith("/backward") else "forward"
        context = figures.unit_lines(arrays, index, sample, quantity=quantity,
                                     direction=direction)
        context.add_vline(x=step, line_width=2, line_dash="dash", line_color="#444444")
        panels.chart(context, "cell-context", 460)
    if char_view.reads_characters(config, arrays):
        char_view.character_section(arrays, config, key, sample, step, unit)
