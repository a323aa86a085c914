"""The load test's websocket clients on a real `streamlit run` server: one session."""

import math

import pytest

from bench import load_test

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def one_round():
    clients = load_test.WebsocketClients()
    try:
        yield load_test.run(1, clients, timeout=120)
    finally:
        clients.shutdown()


def test_a_websocket_session_trains_and_sees_its_own_untrained_gates(one_round):
    assert one_round["completed"] == 1, one_round["failures"]
    assert one_round["failures"] == []
    assert one_round["leaks"] == []
    assert one_round["not_untrained"] == []
    (session,) = one_round["results"]
    assert math.isfinite(session["first_chart"]) and session["first_chart"] > 0
    assert 0 < session["first_response"] <= session["first_chart"] <= session["finished"]


def test_the_leak_check_fails_when_the_expected_gates_are_another_seeds(one_round):
    results = one_round["results"]
    own = load_test.untrained_gates(load_test.session_query(0))
    other = load_test.untrained_gates(load_test.session_query(1))
    assert not load_test.same_gates(own, other)

    leaks, not_untrained = load_test.check(results, [other])
    assert leaks == [] and len(not_untrained) == 1  # nobody's untrained model
    leaks, not_untrained = load_test.check(results, [other, own])
    assert leaks == ["session 0: its first gates are session 1's"] and not_untrained == []
