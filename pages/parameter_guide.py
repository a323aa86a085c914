"""Parameter Guide: every knob, what it does, its Keras default, and a link to try it."""

import streamlit as st

from lstm_explorer.ui import frame, guide, widgets
from lstm_explorer.ui.panels import gpu_present
from lstm_explorer.ui.state import session

frame.require_frame()
explorer = session()
config = explorer.config

st.caption("Every argument of keras.layers.LSTM, and the knobs around it, straight from "
           "the parameter registry that also draws the widgets and checks the values. "
           "**Try it** opens Build & Train with your current settings and that one "
           "argument changed.")
needle = st.text_input("Filter", key="guide_filter", placeholder="e.g. forget, dropout, cudnn")

for title, description, section, keras_group in guide.SECTIONS:
    entries = [param for param in guide.section_params(section, keras_group)
               if guide.matches(param, needle)]
    if not entries:
        continue
    st.subheader(title)
    st.caption(description)
    header = st.columns([2, 5, 1.3, 2.4, 1.2])
    for column, text in zip(header, ("Argument", "What it does", "Default", "Allowed",
                                     "Try")):
        column.markdown(f"**{text}**")
    for param in entries:
        name, what, default, allowed, action = st.columns([2, 5, 1.3, 2.4, 1.2])
        name.markdown(f"**{param.label}**  \n`{param.name}`")
        scope = guide.scope_text(param)
        what.markdown(param.help + ("" if scope == "all" else f"  \n*Only for: {scope}.*"))
        default.markdown(f"`{guide.default_text(param)}`")
        allowed.caption(guide.allowed_text(param))
        query = widgets.try_query(config, param, gpu_present=gpu_present())
        if query is None:
            action.caption("—")
        else:
            changed = ", ".join(f"{key}={value}" for key, value in query.items()
                                if explorer.config.to_query().get(key) != value)
            action.page_link("pages/build_train.py", label="Try it",
                             icon=":material/science:", query_params=query,
                             help=f"Open Build & Train with {changed}")
