"""Next-character prediction on Python source from the running interpreter's standard library.

Every machine that runs the explorer has this text: the `.py` files at the top of the
standard library (`sysconfig.get_paths()["stdlib"]`). The files are sorted by name and
then put in an order drawn with the task's seed; the text is their concatenation, cut at
`n_samples * seq_len + 1` characters. Consecutive windows of `seq_len` characters are
the samples, so the validation windows, the last ones, come from files that training
has (mostly) not read. A different Python version has a different standard library,
hence a different text.

The vocabulary is fixed: tab, newline and the 95 printable ASCII characters, plus one
`OTHER` symbol for everything else (accented letters, box-drawing characters, ...), 98
symbols in all. Inputs are character ids, read through an Embedding (a learned vector
per character: the same as a one-hot input times a weight matrix, at a 98th of the
memory, which a shared server's limits need); targets are character ids for a softmax
over the 98 symbols.

`encode_text`, `stdlib_text` and `char_windows` use nothing but `np`, the standard
library and their arguments: the code export copies them into the exported script.

Example:

>>> ids = encode("def f():\\n")
>>> ids.tolist()[:4], decode(ids) == "def f():\\n"
([70, 71, 72, 2], True)
>>> x, y = char_windows(ids, 2, 4, per_step=True)
>>> x.shape, decode(y[0]), texts_of_inputs(x)
((2, 4), 'ef f', ['def ', 'f():'])
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from lstm_explorer.errors import ConfigError

#: The characters with their own id, in id order: tab (0), newline (1), then the
#: printable ASCII characters from space (2) to tilde (96).
VOCABULARY = "\t\n" + "".join(chr(code) for code in range(32, 127))
#: The id of every character outside `VOCABULARY`.
OTHER = len(VOCABULARY)
#: The Embedding's input_dim and the head's number of classes.
VOCAB_SIZE = len(VOCABULARY) + 1
#: How `decode` shows the `OTHER` symbol.
OTHER_SHOWN = "¤"

_NAMES = {"\t": "tab", "\n": "newline", " ": "space"}


# --- self-contained helpers (copied into exported scripts) ---------------------------------


def encode_text(text):
    """Character ids: tab 0, newline 1, printable ASCII 2-96, every other character 97.

    Args:
        text: a string.

    Returns:
        int32 array of `len(text)` ids.

    Example:

    >>> encode_text("a\\tb é").tolist()
    [67, 0, 68, 2, 97]
    """
    vocabulary = "\t\n" + "".join(chr(code) for code in range(32, 127))
    table = np.full(128, len(vocabulary), dtype=np.int32)
    table[[ord(character) for character in vocabulary]] = np.arange(len(vocabulary))
    # One code point per character, lone surrogates included, without a Python loop.
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ids = np.where(codes < 128, table[np.minimum(codes, 127)], len(vocabulary))
    return ids.astype(np.int32)


def stdlib_text(n_chars, seed):
    """The first `n_chars` characters of the standard library's top-level modules.

    The `.py` files directly in `sysconfig.get_paths()["stdlib"]`, sorted by name, are
    read in an order drawn with `np.random.default_rng(seed)` until there is enough text.

    Args:
        n_chars: how many characters to return (fewer if the library has fewer).
        seed: seeds the order of the files.

    Returns:
        `(text, names)`: the text and the names of the files it comes from, in order.

    Example:

    >>> text, names = stdlib_text(1000, 0)
    >>> len(text), names[0].endswith(".py")
    (1000, True)
    """
    import pathlib
    import sysconfig

    files = sorted(pathlib.Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    order = np.random.default_rng(seed).permutation(len(files))
    parts, names, total = [], [], 0
    for index in order:
        if total >= n_chars:
            break
        part = files[index].read_text(encoding="utf-8", errors="replace")
        parts.append(part)
        names.append(files[index].name)
        total += len(part)
    return "".join(parts)[:n_chars], names


def char_windows(ids, n_samples, seq_len, per_step=False):
    """Cut character ids into consecutive windows, each character's target the next one.

    Window i reads characters `i * seq_len .. (i + 1) * seq_len - 1`; its target is the
    character after it (per step: the character after each one).

    Args:
        ids: 1-D character ids, at least `n_samples * seq_len + 1` of them.
        n_samples: windows.
        seq_len: characters per window.
        per_step: a target at every step. Default: `False`.

    Returns:
        `(x, y)`: x int32 ids `(n_samples, seq_len)`; y int32 ids, `(n_samples,)` or
        `(n_samples, seq_len)` with `per_step`.

    Example:

    >>> x, y = char_windows(np.arange(7), 2, 3)
    >>> x.tolist(), y.tolist()
    ([[0, 1, 2], [3, 4, 5]], [3, 6])
    """
    ids = np.asarray(ids, dtype=np.int32)
    count = n_samples * seq_len
    x = ids[:count].reshape(n_samples, seq_len)
    following = ids[1:count + 1].reshape(n_samples, seq_len)
    y = following if per_step else following[:, -1]
    return x, y


# --- the library side ----------------------------------------------------------------------


def encode(text: str) -> np.ndarray:
    """Character ids of a text, as the model reads it (see `encode_text`).

    Example:

    >>> encode("(x)").tolist()
    [10, 90, 11]
    """
    if not isinstance(text, str):
        raise TypeError(f"text={text!r:.60}: expected a string")
    return encode_text(text)


def decode(ids: Any) -> str:
    """The text of character ids; `OTHER` shows as `OTHER_SHOWN` ("¤").

    `decode(encode(text)) == text` for any text of tab, newline and printable ASCII.

    Args:
        ids: 1-D integer ids from 0 to `VOCAB_SIZE - 1`.

    Example:

    >>> decode([67, 0, 68, 97])
    'a\\tb¤'
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE)):
        raise ValueError(f"ids={ids!r:.80}: expected a 1-D array of ids from 0 to "
                         f"{VOCAB_SIZE - 1}")
    shown = VOCABULARY + OTHER_SHOWN
    return "".join(shown[int(index)] for index in ids)


def texts_of_inputs(inputs: Any) -> list[str]:
    """The text of each sequence of a chars batch, one character per time step.

    Works on what the model was fed, e.g. `TaskData.probe_x` or the `inputs` of a
    saved run's `trace.npz`, so the characters can be drawn along the time axis.

    Args:
        inputs: ids `(batch, steps)`, or one-hot `(batch, steps, VOCAB_SIZE)`.

    Returns:
        `batch` strings of `steps` characters each, in input order (for a layer with
        go_backwards, the trace's step 0 is the last character).

    Example:

    >>> x, _ = char_windows(encode("if x:\\n    y"), 2, 5)
    >>> texts_of_inputs(x)
    ['if x:', '\\n    ']
    """
    array = np.asarray(inputs)
    if array.ndim == 3 and array.shape[-1] == VOCAB_SIZE:
        array = array.argmax(axis=-1)
    if array.ndim != 2:
        raise ValueError(f"inputs of shape {array.shape}: expected ids (batch, steps) or "
                         f"one-hot (batch, steps, {VOCAB_SIZE})")
    return [decode(row) for row in array]


def symbol_name(index: int) -> str:
    """A readable name of one id, for sentences: `"space"`, `"newline"`, `"'e'"`.

    Example:

    >>> symbol_name(2), symbol_name(71), symbol_name(OTHER)
    ('space', "'e'", 'the other symbol')
    """
    if index == OTHER:
        return "the other symbol"
    character = VOCABULARY[index]
    return _NAMES.get(character, repr(character))


@functools.lru_cache(maxsize=4)
def _cached_text(n_chars: int, seed: int) -> tuple[str, tuple[str, ...]]:
    text, names = stdlib_text(n_chars, seed)
    return text, tuple(names)


def library_text(n_chars: int, seed: int) -> tuple[str, tuple[str, ...]]:
    """`stdlib_text`, kept for the last few requests, or a `ConfigError` when too short.

    Raises:
        ConfigError: on `task.n_samples` when the standard library holds fewer
            characters than asked for.
    """
    text, names = _cached_text(n_chars, seed)
    if len(text) < n_chars:
        import sysconfig

        where = sysconfig.get_paths()["stdlib"]
        raise ConfigError("task.n_samples", n_chars,
                          f"the chars task needs {n_chars:,} characters (task.n_samples x "
                          f"task.seq_len + 1), but the .py files in {where} hold only "
                          f"{len(text):,}; lower task.n_samples or task.seq_len")
    return text, names


def make_windows(task: Mapping[str, Any], per_step: bool
                 ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The windows of a `chars` task, with notes for the user.

    Args:
        task: the task section: `seq_len`, `n_samples`, `seed`.
        per_step: a target at every step.

    Returns:
        `(x, y, notes)`, windows in text order (the caller splits them: the last ones
        validate).

    Example:

    >>> x, y, notes = make_windows({"seq_len": 16, "n_samples": 10, "seed": 0}, True)
    >>> x.shape, y.shape, notes[0].startswith("Text: the first 161 characters")
    ((10, 16), (10, 16), True)
    """
    n_samples, seq_len, seed = task["n_samples"], task["seq_len"], task["seed"]
    n_chars = n_samples * seq_len + 1
    text, names = library_text(n_chars, seed)
    ids = encode_text(text)
    x, y = char_windows(ids, n_samples, seq_len, per_step=per_step)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    notes = [f"Text: the first {n_chars:,} characters of {len(names)} file"
             f"{'s' * (len(names) != 1)} of Python {version}'s standard library ({shown}), "
             "in an order drawn with task.seed; the last windows validate."]
    other = float(np.mean(ids == OTHER))
    if other:
        notes.append(f"{other:.2%} of the characters are outside tab, newline and printable "
                     f"ASCII and are read as one 'other' symbol ({OTHER_SHOWN}).")
    return x, y, notes


def probe_texts(data: Any) -> list[str]:
    """The text of each probe sequence of a chars task's `TaskData` (`texts_of_inputs`)."""
    return texts_of_inputs(data.probe_x)


DESCRIPTION = (
    "Next-character prediction on real text that every machine has: Python source files "
    "from the standard library of the interpreter that runs the explorer. Each sample is "
    "seq_len consecutive characters from a fixed vocabulary of 98 symbols (tab, newline, "
    "printable ASCII and one 'other'), read through an Embedding that learns a vector per "
    "character, and the target is the character that "
    "follows, or with a per-step head the next character at every step. Code has "
    "structure a memory can use: quotes that must close, brackets that nest, indentation "
    "that follows a colon. Inside the Cell can draw the characters along the time axis "
    "coloured by one unit's value, and the unit finder ranks the units whose cell state "
    "follows such a pattern. The baseline is always answering the most frequent "
    "character (a space)."
)
