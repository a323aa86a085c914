"""Tests for lstm_explorer.datasets.units: the patterns on hand-written source, the finder."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_explorer.datasets import units


def values(text: str, pattern: str) -> list[float]:
    return units.pattern_values(text, pattern).tolist()


# --- the patterns ----------------------------------------------------------------------------


def test_a_string_is_inside_from_its_opening_quote_to_the_character_before_its_closing_one():
    text = "s = 'ab' + \"c\""
    assert values(text, "in_string") == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0]


def test_an_escaped_quote_stays_inside_its_string():
    text = r"'a\'b' x"
    assert values(text, "in_string") == [1, 1, 1, 1, 1, 0, 0, 0]


def test_a_triple_quoted_string_spans_lines_and_holds_single_quotes():
    text = '"""a\n\'b"""c'
    # Opening delimiter inside; the closing one is inside up to its last quote.
    assert values(text, "in_string") == [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]


def test_a_quote_in_a_comment_opens_no_string_and_a_hash_in_a_string_opens_no_comment():
    text = "x # it's\ny = '#'"
    assert values(text, "in_string") == [0] * 13 + [1, 1, 0]
    assert values(text, "in_comment") == [0, 0, 1, 1, 1, 1, 1, 1] + [0] * 8


def test_a_one_quote_string_cut_by_a_newline_ends_there():
    text = "'abc\nd('"
    assert values(text, "in_string") == [1, 1, 1, 1, 0, 0, 0, 1]
    assert values(text, "bracket_depth") == [0, 0, 0, 0, 0, 0, 1, 1]


def test_bracket_depth_counts_open_brackets_outside_strings_and_comments():
    text = "f([a, {b}], ')') # (\n)"
    depth = values(text, "bracket_depth")
    assert depth[:11] == [0, 1, 2, 2, 2, 2, 3, 3, 2, 1, 1]
    # The ')' inside the string and the '(' in the comment change nothing; the ')'
    # after the string closes f(.
    assert depth[11:17] == [1, 1, 1, 1, 0, 0]
    assert depth[17:] == [0, 0, 0, 0, 0]  # a closing bracket with none open stays at 0


def test_position_in_line_counts_the_characters_read_on_the_line():
    assert values("ab\ncde\n\nf", "position_in_line") == [1, 2, 0, 1, 2, 3, 0, 0, 1]


def test_after_newline_is_one_at_each_newline_only():
    assert values("a\n\nb\n", "after_newline") == [0, 1, 1, 0, 1]


def test_indentation_counts_the_leading_whitespace_read_so_far_and_holds_it():
    text = "if x:\n    y = 1\n\tz\n"
    assert values(text, "indentation") == (
        [0, 0, 0, 0, 0, 0] + [1, 2, 3, 4, 4, 4, 4, 4, 4, 0] + [1, 1, 0])


def test_every_pattern_has_a_label_a_description_and_one_value_per_character():
    text = "def f(x):\n    return x['a']  # b\n"
    scanned = units.scan(text)
    assert set(scanned) == set(units.PATTERNS)
    for name, pattern in units.PATTERNS.items():
        assert pattern.name == name and pattern.label and len(pattern.description) > 40
        assert scanned[name].shape == (len(text),)


def test_an_unknown_pattern_is_refused_by_name():
    with pytest.raises(ValueError, match="pattern='quotes'"):
        units.pattern_values("x", "quotes")


# --- the finder ------------------------------------------------------------------------------

SNIPPETS = ["x = f('a(b', [1, 2])\n", "if y:\n    z = \"q\"  # c\n", "d = {'k': (1,)}\n"]


def padded(texts: list[str]) -> list[str]:
    width = max(map(len, texts))
    return [text.ljust(width) for text in texts]


def test_a_planted_unit_is_ranked_first_among_noisy_units():
    texts = padded(SNIPPETS)
    rng = np.random.default_rng(0)
    states = rng.normal(size=(len(texts), len(texts[0]), 12))
    depth = np.stack([units.pattern_values(text, "bracket_depth") for text in texts])
    states[..., 7] = 0.3 * depth + 0.05 * rng.normal(size=depth.shape)
    ranked = units.rank_units(states, texts, "bracket_depth")
    assert ranked[0].unit == 7 and ranked[0].r > 0.95
    assert all(abs(entry.r) < 0.5 for entry in ranked[1:])
    assert sorted(entry.unit for entry in ranked) == list(range(12))
    assert [abs(entry.r) for entry in ranked] == sorted((abs(e.r) for e in ranked), reverse=True)


def test_a_unit_that_follows_a_pattern_inverted_ranks_first_with_a_negative_r():
    text = SNIPPETS[1]
    inside = units.pattern_values(text, "in_string")
    states = np.stack([np.linspace(0, 1, len(text)), -2.0 * inside + 0.5], axis=1)
    ranked = units.rank_units(states, text, "in_string")
    assert ranked[0].unit == 1 and ranked[0].r == pytest.approx(-1.0)


def test_the_correlation_is_pearson_r_as_numpy_computes_it():
    text = SNIPPETS[0]
    rng = np.random.default_rng(1)
    states = rng.normal(size=(len(text), 3))
    pattern = units.pattern_values(text, "position_in_line")
    expected = {unit: np.corrcoef(states[:, unit], pattern)[0, 1] for unit in range(3)}
    for unit, r in units.rank_units(states, text, "position_in_line"):
        assert r == pytest.approx(expected[unit])


def test_a_constant_unit_correlates_with_nothing():
    text = SNIPPETS[0]
    states = np.stack([np.full(len(text), 0.3), units.pattern_values(text, "in_string")], 1)
    ranked = units.rank_units(states, text, "in_string")
    assert ranked == [(1, pytest.approx(1.0)), (0, 0.0)]


def test_a_backwards_layer_is_turned_around_to_line_up_with_the_text():
    text = SNIPPETS[2]
    depth = units.pattern_values(text, "bracket_depth")
    states = np.stack([depth[::-1], np.arange(len(text), dtype=float)], axis=1)
    assert units.rank_units(states, text, "bracket_depth", go_backwards=True)[0].unit == 0
    assert units.rank_units(states, text, "bracket_depth")[0].unit != 0


def test_a_pattern_of_ones_own_can_be_given_as_values():
    states = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0]])
    ranked = units.rank_units(states, None, [10.0, 20.0, 30.0])
    assert ranked[0] == (0, pytest.approx(1.0))


def test_a_pattern_constant_over_the_texts_is_refused_and_best_units_says_none():
    text = "abc def\n"
    states = np.random.default_rng(0).normal(size=(len(text), 2))
    with pytest.raises(ValueError, match="pattern='in_string'"):
        units.rank_units(states, text, "in_string")
    best = units.best_units(states, text)
    assert best["in_string"] is None and best["in_comment"] is None
    assert best["position_in_line"] is not None


@pytest.mark.parametrize("states, texts, message", [
    (np.zeros((4, 2)), "abc", "one character per step"),
    (np.zeros((2, 3, 2)), ["abc"], "one text per sequence"),
    (np.zeros((2, 3, 2)), ["abc", 7], "texts="),
    (np.zeros(3), "abc", "states of shape"),
    (np.full((3, 2), np.nan), "a(b", "NaN"),
])
def test_states_and_texts_that_do_not_fit_are_refused_naming_the_argument(
        states, texts, message):
    with pytest.raises(ValueError, match=message):
        units.rank_units(states, texts, "bracket_depth")
