"""The Lab: guided experiments on vanishing and exploding gradients, each one click."""

from lstm_explorer.ui import frame, lab_view

frame.require_frame()
lab_view.page()
