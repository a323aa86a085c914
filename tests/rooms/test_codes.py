"""Room codes: unambiguous to read, generous to type, not worth guessing."""

from __future__ import annotations

import math

from lstm_explorer.rooms import codes


def test_a_code_is_six_characters_of_an_alphabet_without_look_alikes():
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        assert len(code) == 7 and code[3] == "-"
        assert set(code.replace("-", "")) <= set(codes.ALPHABET)
    assert not set("ILOU") & set(codes.ALPHABET) and len(codes.ALPHABET) == 32
    assert set("".join(made).replace("-", "")) == set(codes.ALPHABET)  # every one is used


def test_codes_hold_enough_entropy_that_the_rate_limit_makes_guessing_pointless():
    codes_possible = len(codes.ALPHABET) ** codes.CODE_LENGTH
    assert math.log2(codes_possible) == 30
    guesses_a_day = 10 * 60 * 24  # LSTM_EXPLORER_ROOM_JOIN_FAILURES per minute
    assert 1000 * guesses_a_day / codes_possible < 0.015  # 1,000 rooms open: 1.3 % a day


def test_what_a_person_types_is_read_as_the_code_they_meant():
    assert codes.normalize_code("k7q-m2x") == "K7Q-M2X"
    assert codes.normalize_code(" K7Q M2X\n") == "K7Q-M2X"
    assert codes.normalize_code("k7qm2x") == "K7Q-M2X"
    assert codes.normalize_code("OIL-0il") == "011-011"  # O reads as 0, I and L as 1
    for wrong in ("K7Q-M2", "K7Q-M2XY", "K7Q-M2U", "K7Q_M2X", "", None, 123456, "K7Q-M2É"):
        assert codes.normalize_code(wrong) is None


def test_keys_are_long_random_and_checked_against_their_hash_only():
    teacher, student = codes.new_teacher_key(), codes.new_student_token()
    assert len(teacher) == 32 and len(student) == 24
    assert teacher != codes.new_teacher_key()
    stored = codes.key_hash(teacher)
    assert len(stored) == 64 and teacher not in stored
    assert codes.verify_key(teacher, stored)
    for wrong in (student, teacher[:-1], teacher + "x", "", None, stored, 42):
        assert not codes.verify_key(wrong, stored)
