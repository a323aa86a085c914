"""Patterns over Python source, one value per character, and a finder for units that follow them.

A trained character model sometimes has a unit whose cell state tracks something a
person can name: whether the text is inside a string literal, how deep the brackets
nest, how far along the line it is. `PATTERNS` names such quantities; `pattern_values`
gives one value per character; `rank_units` ranks the units of a layer by the Pearson
correlation of their state (c or h, one value per step) with a pattern.

Each value is the pattern's state *after reading* that character, like the cell's
state at that step: the opening quote of a string counts as inside, the closing quote
as outside again. A text is scanned from its first character, which counts as the
start of a line, outside any string or comment, at bracket depth 0: a model that starts
each window from a zero state cannot know more either.

Pure NumPy and the standard library.

Example:

>>> text = "x = [1, 'a(']\\n"
>>> pattern_values(text, "bracket_depth").tolist()
[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
>>> states = pattern_values(text, "in_string")[:, None] * [0.1, 0.9, -0.5]
>>> [(unit, round(r, 2)) for unit, r in rank_units(states, text, "in_string")]
[(0, 1.0), (1, 1.0), (2, -1.0)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


@dataclass(frozen=True)
class Pattern:
    """A quantity over a text that a unit might track.

    Args:
        name: the key in `PATTERNS`, e.g. `"in_string"`.
        label: a short name for a picker, e.g. `"Inside a string literal"`.
        description: what the value is at each character, in one or two sentences.
    """

    name: str
    label: str
    description: str


PATTERNS: dict[str, Pattern] = {pattern.name: pattern for pattern in (
    Pattern("in_string", "Inside a string literal",
            "1 from a string's opening quote (or triple quote) up to the character before "
            "its closing quote, 0 elsewhere. Escaped quotes stay inside; quotes in comments "
            "do not open a string."),
    Pattern("in_comment", "Inside a comment",
            "1 from a # outside any string up to the end of its line (the newline itself "
            "is 0)."),
    Pattern("bracket_depth", "Bracket depth",
            "How many (, [ and { are open, outside strings and comments; a closing "
            "bracket with none open leaves it at 0."),
    Pattern("position_in_line", "Position in the line",
            "How many characters of the current line have been read: 0 at a newline, 1 "
            "at the first character of the next line, and so on."),
    Pattern("indentation", "Indentation",
            "How many spaces or tabs start the current line, as far as read: it counts up "
            "through the leading whitespace, then holds until the newline, where it is 0."),
    Pattern("after_newline", "Just after a newline",
            "1 at a newline character (the state that has just read it knows that a line "
            "starts), 0 elsewhere."),
)}


class UnitCorrelation(NamedTuple):
    """One unit and the Pearson correlation of its state with a pattern."""

    unit: int
    r: float


def scan(text: str) -> dict[str, np.ndarray]:
    """The values of every pattern of `PATTERNS` over one text, in one pass.

    Args:
        text: any string; Python source gives the patterns their meaning.

    Returns:
        Pattern name → float64 array of `len(text)` values.

    Example:

    >>> values = scan("a # 'b'\\n  c")
    >>> values["in_comment"].tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    >>> values["indentation"].tolist()[-4:], bool(values["in_string"].any())
    ([0.0, 1.0, 2.0, 2.0], False)
    """
    if not isinstance(text, str):
        raise TypeError(f"text={text!r:.60}: expected a string")
    n = len(text)
    in_string, in_comment, depth_values = np.zeros(n), np.zeros(n), np.zeros(n)
    column_values, indent_values, newline_values = np.zeros(n), np.zeros(n), np.zeros(n)
    quote: str | None = None  # the delimiter of the open string: ', ", ''' or """
    comment = False
    depth = column = indent = 0
    leading = True
    i = 0
    while i < n:
        char = text[i]
        # How many characters this step consumes, and their in_string values.
        span, inside = 1, (1.0,)
        if quote is not None:
            if char == "\\" and i + 1 < n:
                span, inside = 2, (1.0, 1.0)  # the escaped character stays inside
            elif text.startswith(quote, i):
                span = len(quote)
                inside = (1.0,) * (span - 1) + (0.0,)
                quote = None
            elif char == "\n" and len(quote) == 1:
                # A one-quote string cannot span lines: the text is cut or broken here.
                # End the string, so that what follows reads as code again.
                inside, quote = (0.0,), None
        elif comment:
            inside = (0.0,)
            if char == "\n":
                comment = False
            else:
                in_comment[i] = 1.0
        else:
            inside = (0.0,)
            if char == "#":
                comment = True
                in_comment[i] = 1.0
            elif char in "'\"":
                quote = char * 3 if text.startswith(char * 3, i) else char
                span = len(quote)
                inside = (1.0,) * span
            elif char in "([{":
                depth += 1
            elif char in ")]}":
                depth = max(depth - 1, 0)
        for offset in range(span):
            j = i + offset
            in_string[j] = inside[offset]
            depth_values[j] = depth
            if text[j] == "\n":
                column = indent = 0
                leading = True
                newline_values[j] = 1.0
            else:
                column += 1
                if leading and text[j] in " \t":
                    indent += 1
                else:
                    leading = False
            column_values[j] = column
            indent_values[j] = indent
        i += span
    return {"in_string": in_string, "in_comment": in_comment, "bracket_depth": depth_values,
            "position_in_line": column_values, "indentation": indent_values,
            "after_newline": newline_values}


def pattern_values(text: str, pattern: str) -> np.ndarray:
    """One pattern's value at every character of a text.

    Args:
        text: the text, e.g. one probe sequence (`chars.texts_of_inputs`).
        pattern: a name from `PATTERNS`.

    Returns:
        float64 array of `len(text)` values.

    Example:

    >>> pattern_values("ab\\ncd", "position_in_line").tolist()
    [1.0, 2.0, 0.0, 1.0, 2.0]
    """
    return scan(text)[_check_pattern(pattern)]


def rank_units(states: Any, texts: str | Sequence[str] | None, pattern: Any, *,
               go_backwards: bool = False) -> list[UnitCorrelation]:
    """Rank a layer's units by the correlation of their state with a pattern.

    The Pearson correlation over every step of every sequence, pooled. A unit whose state
    never changes correlates with nothing: its r is 0.

    Args:
        states: one layer's c or h, `(steps, units)` for one text or
            `(batch, steps, units)` for several (as in a trace).
        texts: the text of each sequence, `steps` characters each: a string for
            `(steps, units)`, a list of `batch` strings otherwise. May be `None` when
            `pattern` is given as values.
        pattern: a name from `PATTERNS`, or the values themselves, `(steps,)` or
            `(batch, steps)`, for a pattern of one's own.
        go_backwards: the layer read the sequences backwards, so its step 0 is the
            text's last character (as in a trace of such a layer); the states are
            turned around to line up with the text. Default: `False`.

    Returns:
        `UnitCorrelation(unit, r)` for every unit, the largest |r| first (ties: the
        lower unit first).

    Raises:
        ValueError: naming the argument, for shapes that do not fit, states that are
            not finite, or a pattern that is constant over these texts (then no unit
            can correlate with it: choose longer texts or another pattern).

    Example:

    >>> text = "f(a, (b))\\n"
    >>> depth = pattern_values(text, "bracket_depth")
    >>> states = np.stack([np.sin(np.arange(10.0)), 0.5 * depth, np.ones(10)], axis=1)
    >>> [unit for unit, r in rank_units(states, text, "bracket_depth")]
    [1, 0, 2]
    """
    array = np.asarray(states, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or 0 in array.shape:
        raise ValueError(f"states of shape {np.shape(states)}: expected (steps, units) or "
                         "(batch, steps, units), none of them 0")
    if go_backwards:
        array = array[:, ::-1]
    batch, steps, units = array.shape
    if not np.isfinite(array).all():
        raise ValueError("states hold NaN or infinite values (a diverged run?): no "
                         "correlation can be measured")
    values = _pattern_array(pattern, texts, batch, steps)
    flat, target = array.reshape(-1, units), values.reshape(-1)
    if np.ptp(target) == 0:
        name = pattern if isinstance(pattern, str) else "given as values"
        raise ValueError(f"pattern={name!r} is {target[0]:g} at every step of these texts, "
                         "so no unit can correlate with it; use longer texts or another "
                         "pattern")
    centred = flat - flat.mean(axis=0)
    target = target - target.mean()
    norms = np.sqrt((centred**2).sum(axis=0)) * math.sqrt(float((target**2).sum()))
    constant = np.ptp(flat, axis=0) == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(constant, 0.0, (centred.T @ target) / np.where(constant, 1.0, norms))
    r = np.clip(r, -1.0, 1.0)
    order = sorted(range(units), key=lambda unit: (-abs(r[unit]), unit))
    return [UnitCorrelation(unit, float(r[unit])) for unit in order]


def best_units(states: Any, texts: str | Sequence[str], patterns: Sequence[str] | None = None,
               *, go_backwards: bool = False) -> dict[str, UnitCorrelation | None]:
    """The unit that follows each pattern best (largest |r|).

    Args:
        states, texts, go_backwards: as for `rank_units`.
        patterns: names from `PATTERNS`. Default: `None`, all of them.

    Returns:
        Pattern name → the best `UnitCorrelation`, or `None` where the pattern is
        constant over these texts (e.g. no string literal in them).

    Example:

    >>> text = "x = 'a'\\n"
    >>> states = pattern_values(text, "in_string")[:, None] * [0.0, 1.0]
    >>> best = best_units(states, text, ["in_string", "in_comment"])
    >>> best["in_string"].unit, round(best["in_string"].r, 6), best["in_comment"]
    (1, 1.0, None)
    """
    names = list(PATTERNS) if patterns is None else [_check_pattern(p) for p in patterns]
    best: dict[str, UnitCorrelation | None] = {}
    for name in names:
        try:
            best[name] = rank_units(states, texts, name, go_backwards=go_backwards)[0]
        except ValueError as error:
            if not str(error).startswith("pattern="):
                raise
            best[name] = None
    return best


def _check_pattern(pattern: Any) -> str:
    if not isinstance(pattern, str) or pattern not in PATTERNS:
        raise ValueError(f"pattern={pattern!r}: expected one of {', '.join(PATTERNS)}")
    return pattern


def _pattern_array(pattern: Any, texts: Any, batch: int, steps: int) -> np.ndarray:
    """The pattern's values as (batch, steps), from a name and texts or given values."""
    if isinstance(pattern, str):
        name = _check_pattern(pattern)
        items = _texts(texts, batch, steps)
        return np.stack([scan(text)[name] for text in items])
    values = np.asarray(pattern, dtype=np.float64)
    if values.ndim == 1:
        values = values[None]
    if values.shape != (batch, steps):
        raise ValueError(f"pattern values of shape {np.shape(pattern)}: expected ({steps},) "
                         f"or ({batch}, {steps}), one value per step of each sequence")
    if not np.isfinite(values).all():
        raise ValueError("pattern values hold NaN or infinite values")
    return values


def _texts(texts: Any, batch: int, steps: int) -> list[str]:
    items = [texts] if isinstance(texts, str) else texts
    if items is None or not all(isinstance(item, str) for item in items):
        raise ValueError(f"texts={texts!r:.60}: expected a string, or a list of strings, "
                         "one per sequence")
    items = list(items)
    if len(items) != batch:
        raise ValueError(f"texts has {len(items)} text{'s' * (len(items) != 1)} for "
                         f"{batch} sequences of states: give one text per sequence")
    lengths = sorted({len(item) for item in items})
    if lengths != [steps]:
        raise ValueError(f"texts of {', '.join(map(str, lengths))} characters for states "
                         f"of {steps} steps: give one character per step")
    return items
