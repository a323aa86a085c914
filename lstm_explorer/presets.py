"""Named experiments, each with the paragraph that tells a student what to look for.

A preset is a partial config: what it leaves out takes the registry's defaults. The
first three are the examples of the classic "parameters of a Keras LSTM layer" article,
written for today's Keras 3 (no `batch_input_shape`, no `model.reset_states()`).

Example:

>>> preset = get("default")
>>> preset.build().task["name"]
'adding'
>>> [preset.key for preset in PRESETS][:2]
['default', 'article_classifier']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lstm_explorer.config import ExperimentConfig


@dataclass(frozen=True)
class Preset:
    """A named config with the text that tells a student what to look for.

    Args:
        key: a stable identifier, used in share links (`preset=...`) and the CLI.
        title: shown in the preset picker.
        config: a partial config dict; missing keys take the registry's defaults.
        look_for: one paragraph: what the run shows and where to look.
    """

    key: str
    title: str
    config: dict = field(default_factory=dict)
    look_for: str = ""

    def build(self) -> ExperimentConfig:
        """The complete, validated config of this preset."""
        return ExperimentConfig.from_dict(self.config)


PRESETS: tuple[Preset, ...] = (
    Preset(
        "default",
        "Adding problem, one LSTM(32) (the default)",
        {},
        "Two numbers in a 20-step sequence are marked; the model must output their sum, "
        "so it has to remember the first one for up to 19 steps. Always answering the "
        "mean (about 1.0) scores a validation loss of about 0.16. For the first 3 to 6 "
        "epochs the loss stays near that, then, once the LSTM has learned to keep the "
        "first marked number in its cell state, it falls within two or three epochs to "
        "0.001-0.005 by epoch 10, 30 to 130 times lower (measured for seeds 0 to 4). Open "
        "Gradient Flow: a tenth to a quarter of the gradient at the last step still "
        "reaches step 0. Then try 'Vanishing gradients: the adding problem over 50 "
        "steps' to see the same model fail. Trains in 3 to 7 seconds on a 2-core CPU.",
    ),
    Preset(
        "article_classifier",
        "Article example 1: Embedding + LSTM(128) sentiment-style classifier",
        {"task": {"name": "tokens", "vocab_size": 1000, "seq_len": 40},
         "model": {"embedding": {"output_dim": 64, "input_dim": 1000},
                   "layers": [{"units": 128}]},
         "training": {"epochs": 5, "learning_rate": 0.001}},
        "Embedding(1000, 64) → LSTM(128) → Dense(1, sigmoid) with binary cross-entropy, "
        "as in the article. The LSTM returns only its last h (return_sequences=False), "
        "which must summarise the whole sequence. Watch the input gate: it opens on the "
        "tokens that decide the label and stays nearly shut on the neutral ones. The model "
        "summary shows the 4·(128·(64+128)+128) = 98,816 LSTM weights.",
    ),
    Preset(
        "article_stacked",
        "Article example 2: two stacked LSTMs with return_sequences",
        {"task": {"name": "tokens", "vocab_size": 1000, "seq_len": 40},
         "model": {"embedding": {"output_dim": 64, "input_dim": 1000},
                   "layers": [{"units": 128, "return_sequences": True}, {"units": 64}]},
         "training": {"epochs": 5, "learning_rate": 0.001}},
        "LSTM(128, return_sequences=True) feeds its whole sequence of h to LSTM(64), which "
        "returns only its last h. Compare the gradient-flow plots of the two layers: the "
        "lower layer receives its gradient through the upper one at every step, so its "
        "early-step gradient is larger than with one layer alone.",
    ),
    Preset(
        "article_stateful",
        "Article example 3: a stateful LSTM on a continuous stream",
        {"task": {"name": "sine", "seq_len": 10, "n_samples": 1600, "noise": 0.02,
                  "stream": True},
         "model": {"layers": [{"units": 64, "stateful": True}]},
         "training": {"batch_size": 32, "epochs": 10, "loss": "mse",
                      "learning_rate": 0.001}},
        "keras.Input(batch_shape=(32, 10, 1)) replaces the article's batch_input_shape, "
        "and each epoch starts with reset_state() on the layer, since Keras 3 has no "
        "model.reset_states(). Training runs without shuffling and the data is trimmed "
        "to a multiple of 32. The data is one continuous wave: row i of each batch continues "
        "row i of the batch before, so the state carried across is worth keeping. Watch "
        "h at step 0 of the probe batch: it does not start from zero.",
    ),
    Preset(
        "vanishing_adding",
        "Vanishing gradients: the adding problem over 50 steps",
        {"task": {"name": "adding", "seq_len": 50},
         "model": {"layers": [{"units": 32}]},
         "training": {"learning_rate": 0.001, "batch_size": 64, "epochs": 10}},
        "The default experiment made harder: the two marked numbers lie in a 50-step "
        "sequence, so the first must be remembered for up to 49 steps, and Adam takes "
        "its own default steps (learning rate 0.001, batches of 64). In 10 epochs the "
        "loss falls to about 0.16, what always answering the mean (about 1.0) scores, "
        "and stays there: the model has learned nothing but the mean. Open Gradient "
        "Flow and see why: the gradient reaching step 0 is about a thousandth of the one "
        "at the last step, so the early marker barely changes the weights. Go back to "
        "the default experiment (20 steps, learning rate 0.01, batches of 32) and train "
        "again: the loss falls 30 to 130 times below the mean's. Trains in 5 to 7 "
        "seconds on a 2-core CPU.",
    ),
    Preset(
        "long_lag_recall",
        "Vanishing gradients: recall a symbol 40 steps back",
        {"task": {"name": "recall", "seq_len": 50, "lag": 40},
         "model": {"layers": [{"units": 32}]},
         "training": {"epochs": 10, "learning_rate": 0.005, "batch_size": 64}},
        "The answer is the symbol seen 40 steps before the end. Look at the epochs × steps "
        "heatmap of the gradient: the early steps, where the answer lies, receive a "
        "gradient orders of magnitude smaller than the last ones. Switch the cell to "
        "simple_rnn to see it vanish entirely, or to gru for the middle ground.",
    ),
    Preset(
        "sunspots_forecast",
        "Real data: forecast next year's sunspots (1700-2008)",
        {"task": {"name": "series", "dataset": "sunspots", "seq_len": 20},
         "model": {"layers": [{"units": 32}]},
         "training": {"epochs": 20, "learning_rate": 0.01, "batch_size": 32}},
        "Real data, shipped inside the statsmodels package: each window holds 20 years of "
        "sunspot counts and the model forecasts the next year. Validation forecasts the "
        "years 1951-2008, after every year training saw, and the scaling comes from the "
        "training years alone. The naive forecast, repeating last year's count, scores a "
        "validation loss of 0.85, the baseline the verdict compares with: it misses every turn "
        "of the 11-year cycle. Within 2 to 5 epochs the LSTM falls below 0.4 and ends near "
        "0.22-0.33 after 20, 2.6 to 3.8 times below the naive forecast (seeds 0 to 2): it "
        "has learned the cycle's shape. Trains in 7 to 11 seconds on a 2-core CPU.",
    ),
    Preset(
        "co2_forecast",
        "Real data: forecast next month's CO2 at Mauna Loa (1958-2001)",
        {"task": {"name": "series", "dataset": "co2", "seq_len": 24, "relative": True},
         "model": {"layers": [{"units": 32}]},
         "training": {"epochs": 20, "learning_rate": 0.01, "batch_size": 32}},
        "Monthly CO2 at Mauna Loa from the statsmodels package: 24 months per window, "
        "forecasting the next month. The CO2 level rises every year, so the validation "
        "years (1993-2001) lie above every value training saw; task.relative shifts each "
        "window to start at 0, so the model learns the yearly cycle, not the level. The "
        "naive forecast, repeating last month, scores 0.0093. For about ten epochs the "
        "loss hovers near it, then the model picks up the cycle and ends 4.8 to 10 times "
        "lower, 0.001-0.002 (seeds 0 to 2). Turn relative off and train again: the loss "
        "stays 8 to 9 times above the naive forecast, as the model cannot reach values it "
        "never saw. Trains in 3 to 13 seconds on a 2-core CPU.",
    ),
    Preset(
        "elnino_forecast",
        "Real data: forecast next month's sea temperature off Peru (El Nino, 1950-2010)",
        {"task": {"name": "series", "dataset": "elnino", "seq_len": 24},
         "model": {"layers": [{"units": 32}]},
         "training": {"epochs": 15, "learning_rate": 0.01, "batch_size": 32}},
        "Monthly sea temperature off Peru (El Nino region 1+2) from the statsmodels "
        "package, 24 months per window, forecasting the next month. The naive forecast, "
        "repeating last month's temperature, lags the yearly cycle by a month and scores "
        "0.27. The LSTM learns the season's shape within 2 epochs and ends at 0.045-0.053, "
        "5 to 6 times below the naive forecast (seeds 0 to 2); what is left is mostly the El "
        "Nino years, which no window announces. Trains in about 5 seconds on a 2-core CPU.",
    ),
    Preset(
        "python_chars",
        "Real text: the next character of Python source code",
        {"task": {"name": "chars", "seq_len": 100, "n_samples": 10000},
         "model": {"embedding": {"output_dim": 32},
                   "layers": [{"units": 128, "return_sequences": True}]},
         "training": {"epochs": 6, "learning_rate": 0.005, "batch_size": 32}},
        "Real text every machine has: 10,000 windows of 100 characters of Python source "
        "from this interpreter's standard library, read as ids of 98 symbols through an "
        "Embedding(98, 32); the LSTM(128) predicts the next character at every step. "
        "Always answering a space, the most frequent character, is right for 29-30% of the "
        "validation characters; after 6 epochs the model gets 59-60% right (seeds 0 and 1, "
        "each its own text), in about 65 seconds on a 2-core CPU that nothing else uses. "
        "Open Inside the Cell, where the probe's characters run along the time axis, and "
        "let the unit finder rank the units whose cell state follows a pattern. Measured "
        "over 64 validation windows (bench/units_found.py), the best |r| of c rises from "
        "the untrained model's: position in the line 0.46-0.54 -> 0.77-0.88, indentation "
        "about 0.4 -> 0.67-0.75, bracket depth 0.31 -> 0.47-0.58, comments 0.13-0.19 -> "
        "0.29-0.52; string literals stay near 0.23, not found in that time. Indentation and "
        "the position in the line also drift with the step (r about 0.4-0.5: each window "
        "starts from a zero state), so compare before and after.",
    ),
)

_BY_KEY = {preset.key: preset for preset in PRESETS}


def get(key: str) -> Preset:
    """The preset with this key.

    Raises:
        KeyError: naming the key and listing the known ones.
    """
    if key not in _BY_KEY:
        raise KeyError(f"preset={key!r} does not exist; choose one of: {', '.join(_BY_KEY)}")
    return _BY_KEY[key]
