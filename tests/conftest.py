"""Shared test set-up: quiet TensorFlow, CPU only, small thread pools."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from lstm_explorer import limits  # noqa: E402

# The tests' own trainings (the references the browser tests compare the app's numbers
# with) run on the thread pools the app server sizes for itself (`limits.configure_threads`,
# before TensorFlow's first op, which a doctest would otherwise run first with pools as
# large as the machine): with other pool sizes, sums add up in another order, and one
# epoch of Adam grows the last digits into a different loss.
limits.configure_threads()
