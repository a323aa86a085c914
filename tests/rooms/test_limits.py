"""Room limits: each from its environment variable, with a default and a clear error."""

from __future__ import annotations

import dataclasses

import pytest

from lstm_explorer.rooms.limits import ENV_NAMES, RoomLimits


def test_every_limit_has_its_variable_and_unset_ones_keep_their_default():
    fields = [field.name for field in dataclasses.fields(RoomLimits)]
    assert sorted(ENV_NAMES) == sorted(fields)
    assert RoomLimits.from_env({}) == RoomLimits()
    assert all(name.startswith("LSTM_EXPLORER_ROOM_") for name in ENV_NAMES.values())


@pytest.mark.parametrize("field", [field.name for field in dataclasses.fields(RoomLimits)])
def test_each_variable_sets_its_limit(field):
    limits = RoomLimits.from_env({ENV_NAMES[field]: " 3 "})
    assert getattr(limits, field) == 3
    assert all(getattr(limits, other) == getattr(RoomLimits(), other)
               for other in ENV_NAMES if other != field)


@pytest.mark.parametrize("variable, text, kind", [
    ("LSTM_EXPLORER_ROOM_MAX_RUNS", "2.5", "a whole number of at least 1"),
    ("LSTM_EXPLORER_ROOM_MAX_RUNS_PER_STUDENT", "-1", "a whole number of at least 1"),
    ("LSTM_EXPLORER_ROOM_HOURS", "0", "a number above 0"),
    ("LSTM_EXPLORER_ROOM_MAX_RUN_KB", "lots", "a number above 0"),
    ("LSTM_EXPLORER_ROOM_JOIN_FAILURES", "nan", "a whole number of at least 1"),
])
def test_a_bad_value_names_the_variable_and_echoes_it(variable, text, kind):
    with pytest.raises(ValueError, match=f"^{variable}='{text}': must be {kind}$"):
        RoomLimits.from_env({variable: text})


def test_sizes_and_times_in_the_units_the_store_uses():
    limits = RoomLimits(max_run_kb=1.5, hours=0.25)
    assert limits.max_run_bytes == 1536 and limits.lifetime_seconds == 900
