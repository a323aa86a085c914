"""Real time series from statsmodels' wheel, cut into forecasting windows split by time.

statsmodels ships its example data sets as CSV files inside the package, so loading
them reads a local file: no download, on any machine that can install the package.
`SERIES` lists the ones offered, with their length, time step and what there is to learn.

The windows are split chronologically: the training windows come first, and every value
a training window reads or forecasts lies before the first value a validation window
forecasts. The series is standardised with the mean and standard deviation of that
training period only, so nothing about the validation period leaks into training, not
even its scale. Training may shuffle its own windows; validation is never mixed in.

`load_series`, `split_counts`, `series_windows` and `split_series` use nothing but `np`,
statsmodels and their arguments: the code export copies their source into the exported
script, which thereby loads and cuts the data exactly as the app does.

Example:

>>> x_train, y_train, x_val, y_val, mean, std = split_series(
...     np.arange(30.0), seq_len=5, horizon=1, relative=False, n_samples=100,
...     validation_split=0.2, per_step=False)
>>> x_train.shape, y_train.shape, x_val.shape
((20, 5, 1), (20, 1), (5, 5, 1))
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstm_explorer import params
from lstm_explorer.errors import ConfigError


@dataclass(frozen=True)
class SeriesInfo:
    """One series on offer: what it is, how long, and how its time steps are named.

    Args:
        name: the value of `task.dataset`, e.g. `"sunspots"`.
        title: one line for a picker, e.g. `"Yearly sunspot activity, 1700-2008"`.
        length: how many values `load_series` returns (a test checks it), so that a
            config can be checked without loading the data.
        unit: what one value measures, e.g. `"ppm of CO2"`.
        periods_per_year: 1 (yearly), 4 (quarterly) or 12 (monthly).
        start: `(year, period)` of the first value; period counts from 1.
        description: a paragraph for a student: what the series shows and what a model
            can learn from it.
    """

    name: str
    title: str
    length: int
    unit: str
    periods_per_year: int
    start: tuple[int, int]
    description: str

    def time_label(self, index: int) -> str:
        """The time of the value at `index`: `"1749"`, `"1958-03"` or `"1959Q1"`.

        Example:

        >>> SERIES["co2"].time_label(10), SERIES["unemployment"].time_label(5)
        ('1959-01', '1960Q2')
        """
        year, period = self.start
        total = period - 1 + index
        year += total // self.periods_per_year
        within = total % self.periods_per_year + 1
        if self.periods_per_year == 12:
            return f"{year}-{within:02d}"
        if self.periods_per_year == 4:
            return f"{year}Q{within}"
        return str(year)


SERIES: dict[str, SeriesInfo] = {info.name: info for info in (
    SeriesInfo(
        "sunspots", "Yearly sunspot activity, 1700-2008", 309, "sunspots per year", 1,
        (1700, 1),
        "The yearly number of sunspots from 1700 to 2008 (NOAA's National Geophysical "
        "Data Center). The Sun's activity rises and falls in a cycle of about 11 years "
        "whose peaks differ in height, so the next value depends on where in the cycle "
        "the last years lie: a window of 15 to 20 years sees more than one cycle. Repeating "
        "last year's value misses every turn of the cycle; a model that has learned its "
        "shape does much better."),
    SeriesInfo(
        "co2", "Atmospheric CO2 at Mauna Loa, monthly, 1958-2001", 526, "ppm of CO2", 12,
        (1958, 3),
        "Carbon dioxide in the air at Mauna Loa, Hawaii (Keeling and Whorf): the weekly "
        "readings from March 1958 to December 2001 averaged per month (the 5 months "
        "without a reading filled in linearly). A steady rise with a yearly cycle on top, "
        "as the northern forests take up CO2 in summer. The rise means the validation "
        "years lie above every training value: set task.relative so that the model sees "
        "each window relative to its first value, the yearly shape rather than the level."),
    SeriesInfo(
        "nile", "Yearly flow of the Nile at Aswan, 1871-1970", 100, "10^8 m^3 per year", 1,
        (1871, 1),
        "The volume of the Nile's yearly flow at Aswan from 1871 to 1970 (Cobb, 1978), with "
        "a famous drop in level around 1898. Only 100 values: short windows (about 10), "
        "few units and few epochs, or the model learns the training years by heart. Most "
        "of the year-to-year change is noise, so the best forecast is close to a recent "
        "average, which already beats repeating last year's value."),
    SeriesInfo(
        "elnino", "Sea surface temperature off Peru (El Nino 1+2), monthly, 1950-2010", 732,
        "degrees Celsius", 12, (1950, 1),
        "The monthly sea surface temperature of the Pacific between 0-10 degrees South and "
        "90-80 degrees West (NOAA's ERSST v3b, region Nino 1+2), 1950 to 2010. A strong "
        "yearly cycle, with El Nino years that run several degrees warmer. A window of a "
        "year or two lets the model learn the season's shape; repeating last month's "
        "value lags a month behind it."),
    SeriesInfo(
        "unemployment", "US unemployment rate, quarterly, 1959-2009", 203, "percent", 4,
        (1959, 1),
        "The US unemployment rate per quarter, 1959 to 2009 (Bureau of Labor Statistics, "
        "from statsmodels' macrodata). It moves slowly, rising fast in recessions and "
        "falling slowly after them, so repeating the last quarter is a strong forecast: "
        "a model must learn that momentum to beat it."),
)}

#: The registry's choices for task.dataset, in catalog order.
NAMES = tuple(SERIES)


@dataclass(frozen=True)
class SeriesSplit:
    """How a series is cut: counts of windows, from `split_counts`.

    Args:
        first: windows (and values) left out at the start, to keep `n_samples` windows.
        n_train: training windows, the first ones.
        gap: windows left out between training and validation (per-step targets only).
        n_val: validation windows, the last ones.
        boundary: values of the used part that the training windows read or forecast:
            the training period; validation forecasts only values after it.
    """

    first: int
    n_train: int
    gap: int
    n_val: int
    boundary: int


# --- self-contained helpers (copied into exported scripts) ---------------------------------


def load_series(name):
    """One of statsmodels' example time series, as float64 values in time order.

    Reads the CSV file inside the statsmodels package; nothing is downloaded.

    Args:
        name: `"sunspots"`, `"co2"`, `"nile"`, `"elnino"` or `"unemployment"`.

    Returns:
        1-D float64 array.

    Example:

    >>> load_series("nile").shape
    (100,)
    """
    from statsmodels import datasets

    if name == "sunspots":
        values = datasets.sunspots.load_pandas().data["SUNACTIVITY"]
    elif name == "co2":
        # Weekly readings with gaps: the monthly mean, and the 5 months that have no
        # reading at all filled in linearly between their neighbours.
        weekly = datasets.co2.load_pandas().data["co2"]
        values = weekly.resample("MS").mean().interpolate()
    elif name == "nile":
        values = datasets.nile.load_pandas().data["volume"]
    elif name == "elnino":
        # One row per year, one column per month: read row by row for the months in order.
        values = datasets.elnino.load_pandas().data.drop(columns="YEAR").to_numpy().ravel()
    elif name == "unemployment":
        values = datasets.macrodata.load_pandas().data["unemp"]
    else:
        raise ValueError(f"name={name!r}: expected sunspots, co2, nile, elnino or "
                         "unemployment")
    return np.asarray(values, dtype=np.float64)


def split_counts(length, seq_len, horizon, n_samples, validation_split, per_step):
    """Count the windows of a series of `length` values for a chronological split.

    Window i reads values `i .. i + seq_len - 1` and forecasts value
    `i + seq_len + horizon - 1` (per step: values `i + horizon .. i + seq_len + horizon - 1`).
    Training takes the first windows; validation the last, as Keras's validation_split
    does: `int(usable * (1 - validation_split))` train. With per-step targets the
    `seq_len - 1` windows in between are left out, since their early steps would
    forecast values that training windows forecast too. At most `n_samples` windows
    (training + validation) are used: the most recent.

    Args:
        length: values in the series.
        seq_len: values a window reads.
        horizon: how many steps after a window's last value its target lies (1: the next).
        n_samples: the most windows to use.
        validation_split: fraction of the used windows that validate, in [0, 1).
        per_step: whether every step of a window has a target.

    Returns:
        `(first, n_train, gap, n_val, boundary)`; `n_train` or `n_val + n_train` may be
        below 1 when the series is too short (the caller reports it).

    Example:

    >>> split_counts(30, 5, 1, 100, 0.2, False)
    (0, 20, 0, 5, 25)
    >>> split_counts(30, 5, 1, 10, 0.2, True)
    (11, 8, 4, 2, 13)
    """
    n_windows = length - seq_len - horizon + 1
    gap = seq_len - 1 if per_step else 0
    usable = min(n_windows - gap, n_samples)
    first = n_windows - gap - usable
    n_train = int(usable * (1.0 - validation_split))
    boundary = n_train + seq_len + horizon - 1
    return first, n_train, gap, usable - n_train, boundary


def series_windows(series, seq_len, horizon=1, relative=False, per_step=False):
    """Cut a series into windows of `seq_len` values and the value(s) to forecast.

    Args:
        series: 1-D array of numbers in time order.
        seq_len: values per window.
        horizon: the target lies this many steps after the window's last value.
            Default: 1 (the next value).
        relative: subtract each window's first value from the window and its targets,
            so that the model sees the shape of the recent past rather than its level.
            The first value lies before every step, so no step sees its future.
            Default: `False`.
        per_step: a target at every step t: the value `horizon` steps after step t.
            Default: `False`.

    Returns:
        `(x, y)`: x float32 `(n, seq_len, 1)` with `n = len(series) - seq_len -
        horizon + 1`, window i starting at value i; y float32 `(n, 1)`, or
        `(n, seq_len, 1)` with `per_step`.

    Example:

    >>> x, y = series_windows(np.arange(8.0), 3, horizon=2)
    >>> x.shape, x[0, :, 0].tolist(), y[:, 0].tolist()
    ((4, 3, 1), [0.0, 1.0, 2.0], [4.0, 5.0, 6.0, 7.0])
    """
    series = np.asarray(series, dtype=np.float32)
    n_windows = len(series) - seq_len - horizon + 1
    starts = np.arange(n_windows)[:, None] + np.arange(seq_len)[None, :]
    x = series[starts][..., None]
    if per_step:
        y = series[starts + horizon][..., None]
    else:
        y = series[seq_len + horizon - 1:, None]
    if relative:
        origin = x[:, :1, :]
        x, y = x - origin, y - (origin if per_step else origin[:, 0])
    return x, y


def split_series(values, seq_len, horizon, relative, n_samples, validation_split, per_step):
    """Standardise a series on its training period and cut it into split windows.

    Args:
        values: 1-D series in time order, e.g. from `load_series`.
        seq_len, horizon, relative, per_step: as for `series_windows`.
        n_samples, validation_split: as for `split_counts`.

    Returns:
        `(x_train, y_train, x_val, y_val, mean, std)`: the windows as `series_windows`
        gives them, training first, and the statistics of the training period that
        scaled them.

    Example:

    >>> x_train, _, x_val, _, mean, std = split_series(np.arange(30.0), 5, 1, False,
    ...                                                100, 0.2, False)
    >>> round(mean, 2), len(x_train), len(x_val)
    (12.0, 20, 5)
    """
    first, n_train, gap, n_val, boundary = split_counts(
        len(values), seq_len, horizon, n_samples, validation_split, per_step)
    used = np.asarray(values, dtype=np.float64)[first:]
    # The values the training windows read or forecast, and no later one.
    training_period = used[:boundary]
    mean, std = float(training_period.mean()), float(training_period.std())
    # A constant training period has no spread to scale by; keep its units then.
    scaled = (used - mean) / (std if std > 0 else 1.0)
    x, y = series_windows(scaled, seq_len, horizon, relative=relative, per_step=per_step)
    start = n_train + gap
    return x[:n_train], y[:n_train], x[start:start + n_val], y[start:start + n_val], mean, std


# --- the library side: checks with named fields, notes, a cache ----------------------------


def _setting(task: Mapping[str, Any], key: str) -> Any:
    return task[key] if key in task else params.get(f"task.{key}").default


def info(name: Any) -> SeriesInfo:
    """The catalog entry of a series; a `ConfigError` on `task.dataset` if unknown."""
    if not isinstance(name, str) or name not in SERIES:
        raise ConfigError("task.dataset", name, f"must be one of {', '.join(NAMES)}")
    return SERIES[name]


def check_split(task: Mapping[str, Any], validation_split: float,
                per_step: bool) -> SeriesSplit:
    """The split of a series task's windows, or a `ConfigError` naming what to change.

    Uses the catalog's lengths, so a config is checked without loading the data.

    Args:
        task: the task section (`dataset`, `seq_len`, `horizon`, `n_samples`).
        validation_split: the training section's `validation_split`.
        per_step: whether the model predicts at every step.

    Returns:
        A `SeriesSplit`.

    Example:

    >>> check_split({"dataset": "nile", "seq_len": 10, "horizon": 1, "n_samples": 2000},
    ...             0.2, False)
    SeriesSplit(first=0, n_train=72, gap=0, n_val=18, boundary=82)
    """
    series = info(_setting(task, "dataset"))
    seq_len, horizon = task["seq_len"], _setting(task, "horizon")
    n_samples = task["n_samples"]
    counts = SeriesSplit(*split_counts(series.length, seq_len, horizon, n_samples,
                                       validation_split, per_step))
    usable = counts.n_train + counts.n_val
    if usable < 1 or (counts.n_train < 1 and usable < 2):
        gap_text = (f" (per-step targets leave out the {counts.gap} windows between training "
                    "and validation)" if counts.gap else "")
        # The longest window that leaves 2 windows: one to train on, one to validate.
        longest = ((series.length - horizon) // 2 if per_step
                   else series.length - horizon - 1)
        field, value = (("task.horizon", horizon) if horizon > seq_len
                        else ("task.seq_len", seq_len))
        raise ConfigError(field, value,
                          f"the {series.name} series has {series.length} values: windows of "
                          f"{seq_len} values forecasting {horizon} step{'s' * (horizon > 1)} "
                          f"ahead leave {max(usable, 0)} window{'s' * (usable != 1)}"
                          f"{gap_text}, too few to train and validate on; lower "
                          f"task.seq_len (at most {max(longest, 1)} with this horizon) or "
                          "task.horizon")
    if counts.n_train < 1:
        raise ConfigError("training.validation_split", validation_split,
                          f"leaves no training window out of {counts.n_train + counts.n_val} "
                          f"from the {series.name} series; lower training.validation_split, "
                          "task.seq_len or task.horizon")
    return counts


@functools.lru_cache(maxsize=len(SERIES))
def _cached_series(name: str) -> np.ndarray:
    values = load_series(name)
    values.setflags(write=False)  # shared by every caller
    return values


def series_values(name: Any) -> np.ndarray:
    """The values of a catalog series (loaded once per process, read-only).

    Raises:
        ConfigError: on `task.dataset` for an unknown name, or when statsmodels, which
            holds the data, is not installed.

    Example:

    >>> series_values("sunspots")[:3].tolist()
    [5.0, 11.0, 16.0]
    """
    series = info(name)
    try:
        return _cached_series(series.name)
    except ImportError as error:
        raise ConfigError("task.dataset", name,
                          "the series are read from the statsmodels package, which cannot "
                          f"be imported ({error}); install it with "
                          "`pip install -r requirements.txt`") from None


def make_split(task: Mapping[str, Any], validation_split: float, per_step: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Load, scale and split the series of a `series` task, with notes for the user.

    Args:
        task: the task section: `dataset`, `seq_len`, `horizon`, `relative`, `n_samples`.
        validation_split: fraction of the windows that validate.
        per_step: whether every step has a target.

    Returns:
        `(x_train, y_train, x_val, y_val, notes)`.

    Example:

    >>> x_train, y_train, x_val, y_val, notes = make_split(
    ...     {"dataset": "sunspots", "seq_len": 20, "n_samples": 2000}, 0.2, False)
    >>> x_train.shape, x_val.shape, notes[1].split(";")[0]
    ((231, 20, 1), (58, 20, 1), 'Training windows forecast 1720 to 1950')
    """
    series = info(_setting(task, "dataset"))
    seq_len, horizon = task["seq_len"], _setting(task, "horizon")
    relative = bool(_setting(task, "relative"))
    counts = check_split(task, validation_split, per_step)
    values = series_values(series.name)
    if len(values) != series.length:  # the catalog's length checks configs
        raise AssertionError(f"{series.name} has {len(values)} values, the catalog says "
                             f"{series.length}")
    x_train, y_train, x_val, y_val, mean, std = split_series(
        values, seq_len, horizon, relative, task["n_samples"], validation_split, per_step)
    notes = [f"{series.title}: {series.length} values ({series.unit})."]
    first_target = counts.first + seq_len + horizon - 1 - (seq_len - 1 if per_step else 0)
    split = (f"Training windows forecast {series.time_label(first_target)} to "
             f"{series.time_label(counts.first + counts.boundary - 1)}")
    if counts.n_val:
        split += (f"; validation windows forecast "
                  f"{series.time_label(counts.first + counts.boundary)} to "
                  f"{series.time_label(series.length - 1)}, after every value training "
                  "sees (split by time, never shuffled across).")
    else:
        split += "; there is no validation period."
    notes.append(split)
    if counts.gap:
        notes.append(f"Per-step targets: the {counts.gap} windows between training and "
                     "validation are left out, so that no validation target is also a "
                     "training target.")
    if counts.first:
        notes.append(f"task.n_samples={task['n_samples']} keeps the last "
                     f"{counts.n_train + counts.n_val} windows; the first {counts.first} "
                     "are left out.")
    notes.append(f"Standardised with the training period's mean {mean:.4g} and standard "
                 f"deviation {std:.4g} only; losses are in units of that deviation.")
    if relative:
        notes.append("Relative: each window and its targets are shifted so that the "
                     "window starts at 0; the model forecasts the change since then.")
    if horizon > 1:
        notes.append(f"Each target lies {horizon} steps after the last value read.")
    return x_train, y_train, x_val, y_val, notes


DESCRIPTION = (
    "Forecasting a real time series: yearly sunspots, monthly CO2 at Mauna Loa, the "
    "Nile's yearly flow, monthly sea temperature off Peru (El Nino) or quarterly US "
    "unemployment, shipped inside the statsmodels package (nothing is downloaded). Each "
    "window of seq_len values is followed by the value horizon steps later, which the "
    "model forecasts. The split is by time: the training windows come first and "
    "validation forecasts only later values, the way a forecast meets the future; the "
    "scaling comes from the training period alone. The baseline to beat is the naive "
    "forecast, repeating the last value read: a model that does not beat it has learned "
    "nothing about the series' dynamics."
)
