"""Whatever goes wrong while building or drawing is a message with a way back, never a
traceback, and nothing the person built is lost."""

from __future__ import annotations

from lstm_explorer import figures
from lstm_explorer import model as model_module
from lstm_explorer.ui.widgets import widget_key
from tests.app.conftest import TINY, explorer, new_app, no_exceptions, text, wait_for_job


def test_a_model_keras_refuses_is_a_message_with_the_way_back_and_train_is_off(monkeypatch):
    at = new_app({"layer1.units": "11"})
    built = explorer(at).config
    real_build = model_module.build

    def refuse(config, **arguments):
        if config.model["layers"][0]["units"] == 13:
            raise ValueError("Keras says no to 13 units")
        return real_build(config, **arguments)

    monkeypatch.setattr(model_module, "build", refuse)
    at.number_input(key=widget_key("layer1.units")).set_value(13).run()
    no_exceptions(at)
    errors = text(at, "error")
    assert "Keras cannot build this model" in errors and "Keras says no to 13 units" in errors
    assert "layer1.units=13" in errors  # the setting involved, named
    assert at.button(key="train").disabled
    at.button(key=next(button.key for button in at.button
                       if str(button.key).startswith("back-to-built"))).click().run()
    no_exceptions(at)
    assert explorer(at).config == built
    assert at.number_input(key=widget_key("layer1.units")).value == 11
    assert at.button(key="train").disabled is False


def test_a_link_with_bidirectional_and_go_backwards_opens_with_a_message_not_a_traceback():
    at = new_app({"model.bidirectional": "true", "layer1.go_backwards": "true"})
    no_exceptions(at)
    assert "layer1.go_backwards" in text(at, "warning")
    assert at.button(key="train").disabled is False  # what remains of the link trains


def test_a_figure_that_fails_to_draw_leaves_a_message_and_keeps_the_runs(monkeypatch):
    at = new_app(TINY)
    at.button(key="train").click().run()
    wait_for_job(at)
    runs = list(explorer(at).runs)

    def broken(*arguments, **keywords):
        raise RuntimeError("the plot broke")

    monkeypatch.setattr(figures, "gradient_flow", broken)
    at.switch_page("pages/gradient_flow.py").run()
    no_exceptions(at)
    errors = text(at, "error")
    assert "could not be drawn" in errors and "RuntimeError: the plot broke" in errors
    assert "Your runs and settings are kept" in errors
    assert explorer(at).runs == runs


def test_a_page_that_fails_outside_its_live_views_shows_a_message_too(monkeypatch):
    from lstm_explorer.ui import widgets

    at = new_app()

    def broken(*arguments, **keywords):
        raise KeyError("no such knob")

    monkeypatch.setattr(widgets, "try_query", broken)
    at.switch_page("pages/parameter_guide.py").run()
    no_exceptions(at)
    errors = text(at, "error")
    assert "Something went wrong on this page" in errors and "KeyError" in errors
    monkeypatch.undo()
    at.switch_page("pages/build_train.py").run()
    no_exceptions(at)
    assert at.button(key="train").disabled is False
