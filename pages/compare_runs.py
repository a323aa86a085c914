"""Compare Runs: the session's runs overlaid, what differs, and "Vary one parameter"."""

from lstm_explorer.ui import compare_view, frame

frame.require_frame()
compare_view.page()
