"""Gradient Flow: how much of the loss's gradient reaches each time step, epoch by epoch."""

import streamlit as st

from lstm_explorer import figures, readings
from lstm_explorer.ui import folder_runs, frame, panels, run_picker
from lstm_explorer.ui.state import session

frame.require_frame()
explorer = session()
explorer.collect()
shown = run_picker.pick_run(explorer, "gradient_run")


def gradient_view() -> None:
    history, _ = shown.data(explorer) if shown is not None else (None, None)
    rows = (history or {}).get("epochs") or []
    layers = figures.layers_in(history=history) if rows else []
    if not layers:
        waiting = ("The training running now has not finished its first epoch yet. "
                   if shown is not None and shown.running else "")
        st.info(f"{waiting}No gradients recorded yet. Train a model on the Build & Train "
                "page: after every epoch the trainer measures ‖∂L/∂h_t‖ at every step of a "
                "fixed probe batch.", icon=":material/info:")
        st.page_link("pages/build_train.py", label="Go to Build & Train",
                     icon=":material/model_training:")
        return
    if shown.writing:  # the caption above was drawn once; this line follows the files
        planned = (history or {}).get("epochs_planned")
        st.caption(f"{len(rows)} epoch{'' if len(rows) == 1 else 's'}"
                   + (f" of {planned}" if planned else "") + " written so far by the "
                   "training in the other process; redrawn every 2 s.")
    run_picker.forget_unless_offered("gradient_layer", layers)
    pick_layer, pick_quantity = st.columns(2)
    layer = pick_layer.selectbox("Layer", layers, format_func=panels.layer_label,
                                 key="gradient_layer")
    has_c = any(layer in ((row.get("probe") or {}).get("grad_c") or {}) for row in rows)
    quantities = ["grad_h", "grad_c"] if has_c else ["grad_h"]
    run_picker.forget_unless_offered("gradient_quantity", quantities)
    quantity = pick_quantity.radio(
        "Gradient of", quantities, horizontal=True, key="gradient_quantity",
        format_func={"grad_h": "hidden state h", "grad_c": "cell state c"}.get)
    st.info(readings.gradient_reading(history, layer, quantity), icon=":material/insights:")
    panels.chart(figures.gradient_flow(history, layer), "gradient-flow", 460)
    panels.chart(figures.gradient_heatmap(history, layer, quantity), "gradient-heatmap", 460)
    panels.chart(figures.weight_gradient_norms(history, layer), "weight-gradients", 460)


# Only the training running now and a folder run another process is writing change
# while the page is open: a kept run is drawn once.
live = shown is not None and shown.running
if shown is not None and shown.writing:
    # Redrawn every two seconds from the files; once they say the run has ended, the
    # whole page runs again, and its picker lists the run as finished.
    panels.live(gradient_view, job=None, running=True, every=2.0,
                until=lambda: not folder_runs.fresh(shown.entry).writing)
else:
    panels.live(gradient_view, job=explorer.job, running=live, every=1.0)
if not live:
    run_picker.rerun_when_training_ends(explorer)
