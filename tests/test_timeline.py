from lstm_explorer import timeline


def test_marks_carry_the_details_of_every_provider_and_survive_a_failing_one(
        tmp_path, monkeypatch):
    path = tmp_path / "timeline.jsonl"
    monkeypatch.setenv(timeline.ENV, str(path))
    monkeypatch.setattr(timeline, "_details", [])

    def broken() -> dict:
        raise RuntimeError("no session here")

    timeline.add_details(lambda: {"session": "abc123"})
    timeline.add_details(broken)
    timeline.mark("click seen", seed=3)
    (entry,) = timeline.read(path)
    assert (entry["stage"], entry["session"], entry["seed"]) == ("click seen", "abc123", 3)


def test_nothing_is_written_without_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(timeline.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    timeline.mark("click seen")
    assert list(tmp_path.iterdir()) == []
