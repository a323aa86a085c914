"""LSTM Explorer: the Streamlit entry point (`streamlit run app.py`).

Registers the pages with `st.navigation` and draws the frame they share: the
title, the device badge and the preset picker in the sidebar, the share link read in
before the page runs and written back after it.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st  # noqa: E402

from lstm_explorer import timeline  # noqa: E402

timeline.mark("app run")

from lstm_explorer.ui import frame  # noqa: E402  (TensorFlow-free: see start_tensorflow)

frame.keep_keras_state()
frame.start_tensorflow_if_imported()

# A projector's window is narrow once its type is large: presenter mode (from the link)
# starts with the sidebar folded, so that the charts have the width (it opens with >).
st.set_page_config(layout="wide", page_title="LSTM Explorer", page_icon=":material/memory:",
                   initial_sidebar_state="collapsed" if frame.presenter_in_link() else "auto")

PAGES = [
    st.Page("pages/build_train.py", title="Build & Train", icon=":material/model_training:",
            default=True),
    st.Page("pages/inside_cell.py", title="Inside the Cell", icon=":material/memory:"),
    st.Page("pages/gradient_flow.py", title="Gradient Flow", icon=":material/trending_down:"),
    st.Page("pages/compare_runs.py", title="Compare Runs", icon=":material/compare_arrows:"),
    st.Page("pages/lab.py", title="The Lab", icon=":material/science:"),
    st.Page("pages/class_room.py", title="Class Room", icon=":material/groups:"),
    st.Page("pages/parameter_guide.py", title="Parameter Guide", icon=":material/menu_book:"),
]

page = st.navigation(PAGES)
frame.read_link()
frame.sidebar()
frame.style()
st.title(page.title)
frame.notices()
# Build & Train draws without TensorFlow, so the first visitor need not wait for it.
frame.run_page(page, wait_for_tensorflow=page.title != PAGES[0].title)
frame.write_link()
timeline.mark("app run end")
# TensorFlow is imported on a thread of its own (its thread pools sized first for the
# trainings this server runs at once, see limits.thread_pools) once this page has been
# drawn: an import in parallel took half the CPU time of the first page's own Python.
frame.start_tensorflow()
frame.warm_up_default_preset()
