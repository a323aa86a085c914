"""The frame every page shares: the share link in and out, presets, the device badge.

`app.py` calls `read_link` and `sidebar` before the page runs and `write_link` after it,
so the URL always holds the configuration being edited (only what differs from the
defaults) and a link opened later restores it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping
from typing import Any

import streamlit as st

from lstm_explorer import loading, presets, timeline
from lstm_explorer.config import (
    ExperimentConfig,
    flat_field,
    format_text,
    param_for_key,
    split_key,
)
from lstm_explorer.ui.state import ExplorerSession, session

# Query keys that belong to Streamlit itself, not to the config.
STREAMLIT_KEYS = ("embed", "embed_options")
PRESET_KEY = "preset"
PICKER_KEY = "preset_picker"
# The share-link key of presenter mode (a view setting, not part of the config).
PRESENTER_KEY = "presenter"
PRESENTER_TOGGLE = "presenter_toggle"
# The class room's keys (`room_view`): which room, the teacher key in the teacher's own
# link, and a student's seat in the student's own link. Not part of the config.
ROOM_KEYS = ("room", "teacher", "seat")
_TRUE = ("1", "true", "yes", "on")


def config_from_link(query: Mapping[str, Any]) -> tuple[ExperimentConfig, str | None, list[str]]:
    """Read a share link: the config, the preset it names (if any), and what went wrong.

    A link never breaks the page: every key that cannot be used is named in a message
    and its default is used instead. `preset=KEY` starts from that preset; the other
    keys change it. `task.path` is ignored: in the app a CSV is uploaded, never read
    from the server's disk.

    Args:
        query: key → text (or list of texts), e.g. `st.query_params.to_dict()`.

    Returns:
        `(config, preset key or None, messages)`.

    Example:

    >>> config, preset, problems = config_from_link({"layer1.units": "abc"})
    >>> config.model["layers"][0]["units"], preset, len(problems)
    (32, None, 1)
    """
    query = {key: value for key, value in query.items()
             if key not in STREAMLIT_KEYS and key != PRESENTER_KEY and key not in ROOM_KEYS}
    messages: list[str] = []
    preset_key = None
    preset_text = query.pop(PRESET_KEY, None)
    if isinstance(preset_text, list | tuple):
        preset_text = preset_text[-1] if preset_text else None
    base: dict[str, str] = {}
    if preset_text is not None:
        try:
            preset = presets.get(str(preset_text))
        except KeyError:
            known = ", ".join(p.key for p in presets.PRESETS)
            messages.append(f"`preset={str(preset_text)[:60]!r}`: there is no such preset "
                            f"(known: {known}); the defaults were used.")
        else:
            preset_key = preset.key
            base = preset.build().to_query()
    if "task.path" in query:
        query.pop("task.path")
        messages.append("`task.path`: the app does not read files on the server; upload "
                        "the CSV on the Build & Train page instead. It was ignored.")
    config, problems = ExperimentConfig.from_query({**base, **query})
    for problem in problems:
        field = flat_field(problem.field)  # as the link spells it
        given = query.get(field, problem.value)  # the link's own text, if a key
        if isinstance(given, list | tuple):
            given = given[-1] if given else ""
        messages.append(f"`{field}` = `{_short(given)}`: {problem.message}. "
                        f"The default was used for {field}.")
    return config, preset_key, messages


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _query_now() -> dict[str, Any]:
    return {key: value for key, value in st.query_params.to_dict().items()
            if key not in STREAMLIT_KEYS}


def read_link() -> None:
    """Load the config from the URL on a session's first run, and whenever a link
    (e.g. a "try it" link of the Parameter Guide) changed the URL since the app wrote it.

    An empty query string after the first run is a page switch, not a reset.
    """
    explorer = session()
    query = _query_now()
    first = not explorer.link_loaded
    changed = bool(query) and query != (explorer.last_query or {})
    if not first and not changed:
        return
    explorer.link_loaded = True
    if not query:
        return
    presenter = query.get(PRESENTER_KEY)
    if isinstance(presenter, list | tuple):
        presenter = presenter[-1] if presenter else None
    explorer.presenter = str(presenter).lower() in _TRUE
    config, preset_key, messages = config_from_link(query)
    explorer.load(config, preset_key)
    from lstm_explorer.ui import room_view  # imports this module: not at the top

    room_view.link_in(query, explorer)
    if messages:
        explorer.notices.append(
            "**This link has settings that could not be used**; the defaults were used "
            "for them:\n\n" + "\n".join(f"- {message}" for message in messages))


def link_query(config: ExperimentConfig, preset_key: str | None = None) -> dict[str, str]:
    """The share-link keys of a config: the preset it came from and what differs from it.

    Without a preset, what differs from the defaults. `config_from_link` reads it back:
    the same config and the same preset, so a reloaded link keeps the preset's name and
    its "what to look for" text.

    Example:

    >>> config = presets.get("article_stacked").build().with_values({"layer2.units": 8})
    >>> link_query(config, "article_stacked")
    {'preset': 'article_stacked', 'layer2.units': '8'}
    >>> config_from_link(link_query(config, "article_stacked"))[:2] == (config, "article_stacked")
    True
    """
    if preset_key is None:
        return config.to_query()
    base = presets.get(preset_key).build()
    mine, theirs = config.to_query(), base.to_query()
    query = {PRESET_KEY: preset_key}
    query.update({key: text for key, text in mine.items() if theirs.get(key) != text})
    layers = len(config.model["layers"])
    for key in theirs.keys() - mine.keys():
        # The preset sets it, this config has it at its default: say so explicitly.
        section, _, index = split_key(key)
        if section == "layer" and index is not None and index >= layers:
            continue  # a layer this config does not have (model.num_layers says so)
        query[key] = format_text(param_for_key(key), config.get(key))
    return query


def write_link() -> None:
    """Write the settings being edited to the URL: the preset, if any, and what differs."""
    explorer = session()
    wanted = link_query(explorer.config, explorer.preset)
    if explorer.presenter:
        wanted[PRESENTER_KEY] = "1"
    from lstm_explorer.ui import room_view

    wanted.update(room_view.link_keys())
    if _query_now() != wanted:
        st.query_params.from_dict(wanted)
    explorer.last_query = wanted


def notices() -> None:
    """Show the session's pending notices, each with a button that dismisses it."""
    explorer = session()
    for index, notice in enumerate(list(explorer.notices)):
        box = st.container(border=True)
        box.warning(notice)
        if box.button("Dismiss", key=f"dismiss-{index}-{hash(notice)}"):
            explorer.notices.remove(notice)
            st.rerun()


def _apply_preset() -> None:
    key = st.session_state.get(PICKER_KEY)
    if key is None:
        return
    session().load(presets.get(key).build(), key)


def preset_picker(explorer: ExplorerSession) -> None:
    """The preset selector in the sidebar, with the preset's "what to look for" text."""
    keys = [preset.key for preset in presets.PRESETS]
    # The picker shows the session's preset, however it was loaded (a link, a reload).
    shown = explorer.preset if explorer.preset in keys else None
    if st.session_state.get(PICKER_KEY) != shown:
        st.session_state[PICKER_KEY] = shown
    chosen = st.sidebar.selectbox(
        "Preset", keys, index=None, key=PICKER_KEY, on_change=_apply_preset,
        format_func=lambda key: presets.get(key).title, placeholder="Choose an experiment",
        help="A ready-made experiment: picking one replaces the current settings.")
    if chosen is not None:
        preset = presets.get(chosen)
        # In full: the picker cuts a long title to its width.
        st.sidebar.markdown(f"**{preset.title}**")
        modified = explorer.config != preset.build() or bool(explorer.draft)
        if modified:
            st.sidebar.caption("You have changed settings since loading this preset.")
        st.sidebar.markdown(f"**What to look for.** {preset.look_for}")


_TENSORFLOW_LOCK = threading.Lock()
_tensorflow_started = False


def start_tensorflow() -> None:
    """Import TensorFlow and Keras on a thread of their own, once per process.

    The import (and the first model built) takes seconds; done in the first page run
    it kept the first visitor after a server start waiting for all of it, and done in
    parallel with that run it took half its CPU (the GIL). So `app.py` starts it after
    the page has been drawn from the config alone, which fills in what needs
    TensorFlow (the model summary, the device) when `tensorflow_ready()`; a page that
    cannot draw without it starts it at once (`run_page`). See `lstm_explorer.loading`.
    """
    global _tensorflow_started
    with _TENSORFLOW_LOCK:
        if _tensorflow_started:
            return
        _tensorflow_started = True

    def load() -> None:
        try:
            loading.import_tensorflow()
            timeline.mark("tensorflow imported")
        except Exception:  # noqa: BLE001 - the page's own import will say what is wrong
            logging.getLogger(__name__).exception("importing TensorFlow failed")

    threading.Thread(target=load, name="lstm-explorer-tensorflow", daemon=True).start()


def start_tensorflow_if_imported() -> None:
    """`start_tensorflow` at once when the process holds TensorFlow already (a test
    process, a server that imported it), where the loader has nothing left to import
    and the page need not wait for its own end to start it."""
    if "tensorflow" in sys.modules:
        start_tensorflow()


def tensorflow_ready(timeout: float = 0.0) -> bool:
    """Whether TensorFlow has been imported (waiting up to `timeout` seconds)."""
    return loading.ready(timeout)


def when_tensorflow_ready() -> None:
    """Rerun the page once TensorFlow is imported, so that it draws what waited for it."""
    if tensorflow_ready():
        return

    def look() -> None:
        if tensorflow_ready():
            st.rerun()

    st.fragment(look, run_every=0.5)()


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    """Where training runs (asked once per process, once TensorFlow is imported)."""
    from lstm_explorer import model as model_module

    return model_module.device_label()


# Streamlit's page starts 6rem down with a 2.75rem title: on a 720-pixel projector that
# is a fifth of the screen before anything of ours. Less, so that the training bar and
# the first chart are in view.
COMPACT_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.75rem; padding-bottom: 2rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2rem; padding: 0 0 0.5rem 0; }
</style>
"""


# Presenter mode: Streamlit sizes its text and spacing in rem, so a larger root font
# enlarges the whole page; charts follow through `panels.chart_theme`.
PRESENTER_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding-left: 2rem;
                                       padding-right: 2rem; }
</style>
"""


def style() -> None:
    """The app's own page style (spacing; larger in presenter mode), before anything
    is drawn."""
    st.html(COMPACT_CSS + (PRESENTER_CSS if session().presenter else ""))


def presenter_in_link() -> bool:
    """Whether presenter mode is on: the session's switch, else the link's key."""
    explorer = st.session_state.get("lstm_explorer")
    if explorer is not None and explorer.link_loaded:
        return explorer.presenter
    value = st.query_params.get(PRESENTER_KEY)
    return str(value).lower() in _TRUE


def _set_presenter() -> None:
    session().presenter = bool(st.session_state.get(PRESENTER_TOGGLE))


def presenter_switch(explorer: ExplorerSession) -> None:
    """The sidebar switch of presenter mode; it shows the session's state (a link may
    have set it)."""
    if st.session_state.get(PRESENTER_TOGGLE) is not explorer.presenter:
        st.session_state[PRESENTER_TOGGLE] = explorer.presenter
    st.sidebar.toggle("Presenter mode", key=PRESENTER_TOGGLE, on_change=_set_presenter,
                      help="For a projector: larger type, thicker lines in every chart. "
                           "The page's link carries it (presenter=1), so students who "
                           "open the teacher's link see the same.")


def sidebar() -> None:
    """The shared sidebar: app name, device badge, preset picker."""
    explorer = session()
    st.sidebar.markdown("### LSTM Explorer")
    label = device_label() if tensorflow_ready() else "Device: TensorFlow is starting"
    st.sidebar.badge(label, icon=":material/memory:",
                     color="green" if label.startswith("GPU") else "gray")
    preset_picker(explorer)
    presenter_switch(explorer)
    # Which server process this session lives on: for an administrator behind a load
    # balancer (deploy/README.md), and for deploy/check_nginx.sh, which checks that each
    # session stays on its process. Not shown to the class: it is in the page's HTML
    # (an invisible element), where those tools read it.
    st.sidebar.html(f'<span data-testid="serverProcess" style="display:none">Server '
                    f'process {os.getpid()} on {socket.gethostname()}</span>')


def _session_detail() -> dict[str, str]:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    return {"session": context.session_id[:8]} if context is not None else {}


timeline.add_details(_session_detail)


@st.cache_resource(show_spinner=False)
def warm_up_default_preset() -> threading.Thread:
    """Trace the default preset's probe graph on a background thread, once per process.

    `app.py` calls this after the first page run has been sent, so it takes nothing
    from the first page; the first Train on the default preset then finds its graph
    ready (see `training.warm_up`).
    """

    def warm_up() -> None:
        try:
            loading.import_tensorflow()  # waits for the loader thread, if it runs
            from lstm_explorer import training

            training.warm_up(presets.get("default").build())
        except Exception:  # noqa: BLE001 - a failed warm-up only means a cold first run
            logging.getLogger(__name__).exception("warming up the default preset failed")

    thread = threading.Thread(target=warm_up, name="lstm-explorer-warm-up", daemon=True)
    thread.start()
    return thread


def keep_keras_state() -> None:
    """Stop Streamlit from calling `keras.backend.clear_session()` after every script run.

    Streamlit's script runner "cleans problem modules" at the end of each run, fragment
    reruns included: with Keras imported it calls `keras.backend.clear_session()`, which
    replaces Keras's global state trackers for every thread, resets TensorFlow's default
    graph, empties the eager kernel cache and runs a full garbage collection. In a
    server where models train on background threads that breaks them (DESIGN §4: never
    call `clear_session` in the app), and at two live redraws a second it slowed a
    training run tenfold. Matplotlib is still closed as Streamlit does. Idempotent.
    """
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:  # pragma: no cover - a Streamlit without that module
        return
    current = getattr(script_runner, "_clean_problem_modules", None)
    if current is None or getattr(current, "keeps_keras_state", False):
        return

    def clean_problem_modules_except_keras() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    clean_problem_modules_except_keras.keeps_keras_state = True
    script_runner._clean_problem_modules = clean_problem_modules_except_keras


_RUN = threading.local()


def run_page(page: Any, *, wait_for_tensorflow: bool = True) -> None:
    """Run the selected page inside the frame (`app.py` calls this).

    Args:
        page: the `st.Page` to run.
        wait_for_tensorflow: let the loader thread finish importing TensorFlow first
            (`start_tensorflow`); only a page written to draw without it (Build &
            Train) passes `False`. Default: `True`.
    """
    _RUN.framed = True
    try:
        if wait_for_tensorflow and not tensorflow_ready():
            start_tensorflow()  # app.py starts it after the page; this page needs it now
            # Imports of TensorFlow's modules from two threads at once can deadlock.
            with st.spinner("TensorFlow is starting (once after the server starts)..."):
                tensorflow_ready(timeout=300)
        page.run()
    except Exception as error:  # noqa: BLE001 - a message naming the settings, no traceback
        # Streamlit's own rerun and stop signals are BaseExceptions and pass through.
        logging.getLogger(__name__).exception("the page %r failed", page.title)
        from lstm_explorer.ui import panels

        panels.failure_panel(session(), error, "Something went wrong on this page.")
    finally:
        _RUN.framed = False


def require_frame() -> None:
    """Call first in every page: make sure the page runs inside `app.py`'s frame.

    Because the page files live in `pages/`, Streamlit starts a fresh process in its
    legacy multipage mode, which runs a page file directly, without `app.py`, until the
    first `st.navigation` call switches that mode off. That happens when the first
    request after a server start opens a page other than the main one (a share link, or
    a classroom reloading after a restart), and in every `AppTest` run. The page then
    switches the legacy mode off and reruns, so `app.py` runs and routes to it.
    """
    if getattr(_RUN, "framed", False):
        return
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
