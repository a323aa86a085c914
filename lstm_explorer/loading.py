"""Import TensorFlow and Keras once per process, from one thread at a time.

Importing TensorFlow takes seconds, so the app does it on a thread of its own while
its first page draws (`ui.frame.start_tensorflow`). Two threads importing parts of
TensorFlow at once can break it for the whole process (seen: `KeyError: Registering two
gradient with name 'ReduceDataset'`) or deadlock on Python's import locks, so every
lazy import of a TensorFlow-using module of this package goes through `import_tensorflow`,
which lets one thread import and makes the others wait.

Example:

>>> import_tensorflow()
>>> ready()
True
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()
_READY = threading.Event()


def import_tensorflow() -> None:
    """Import this package's TensorFlow-using modules, once; other callers wait for it.

    TensorFlow's thread pools are sized first (`limits.configure_threads`), as that must
    happen before TensorFlow starts. An import that fails raises here, in the caller, and
    the next call tries again.
    """
    if _READY.is_set():
        return
    with _LOCK:
        if _READY.is_set():
            return
        from lstm_explorer import limits

        limits.configure_threads()
        from lstm_explorer import codegen, model, trace, training  # noqa: F401

        _READY.set()


def ready(timeout: float = 0.0) -> bool:
    """Whether `import_tensorflow` has finished (waiting up to `timeout` seconds)."""
    return _READY.wait(timeout)
