"""The scaling-out proof: two app processes behind Debian's nginx with deploy/nginx.conf.

Runs deploy/check_sticky.py for real (two `streamlit run` processes, nginx on loopback,
browser sessions through it), and its control: with the sticky hash taken out of the
config, the same check must catch sessions moving between processes. The real run also
shares one class room between the processes: a teacher on one, a student on the other.
"""

import re
import shutil

import pytest

from deploy import check_sticky

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def test_nginx_config_keeps_every_session_on_its_process(capsys):
    assert check_sticky.main(["--nginx", NGINX, "--sessions", "4"]) == 0
    report = capsys.readouterr().out
    assert "PASS: every session stayed on its process" in report
    assert "over 2 of 2 backends" in report
    # The class room: the student's run, sent through one process, on the teacher's page
    # served by the other.
    assert "PASS: one class room shared by both processes" in report
    room = re.search(r"room (\S+): teacher on process (\d+), student on process (\d+)", report)
    assert room is not None and room.group(2) != room.group(3), report


def test_check_catches_sessions_moving_when_a_random_backend_replaces_the_hash(capsys):
    assert check_sticky.main(["--nginx", NGINX, "--sessions", "4", "--round-robin"]) == 1
    assert "moved between processes" in capsys.readouterr().out


def test_nginx_config_forwards_the_websocket_and_hashes_the_route_cookie():
    text = check_sticky.nginx_config(["127.0.0.1:1", "127.0.0.1:2"], 8080,
                                     check_sticky.ROOT / "tmp")
    assert "hash $lstm_route consistent;" in text
    assert "server 127.0.0.1:1;" in text and "server 127.0.0.1:2;" in text
    assert "app1:8501" not in text
    websocket = text.split("location /_stcore/stream")[1]
    assert "proxy_set_header Upgrade $http_upgrade;" in websocket
    assert "proxy_set_header Connection $connection_upgrade;" in websocket


@pytest.mark.parametrize("sticky", [True, False])
def test_control_config_differs_only_by_the_hash(sticky):
    text = check_sticky.nginx_config(["127.0.0.1:1"], 8080, check_sticky.ROOT / "tmp",
                                     sticky=sticky)
    assert ("hash $lstm_route consistent;" in text) is sticky
    assert ("random;" in text) is not sticky
