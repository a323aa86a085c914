"""Real data that every machine has offline, and the tools to read what a model learned from it.

- `series`: real time series shipped inside statsmodels' wheel (sunspots, CO2, the Nile,
  El Niño, US unemployment), cut into forecasting windows with a chronological split.
  The `series` task.
- `chars`: Python source from the running interpreter's standard library, one character
  at a time, for next-character prediction. The `chars` task.
- `units`: patterns over a text (inside a string literal, bracket depth, position in the
  line, ...) and `rank_units`, which ranks a layer's units by how closely their cell or
  hidden state follows a pattern.

Nothing here downloads anything; nothing here imports TensorFlow or Streamlit.
`tasks.make` calls `series.make_split` and `chars.make_windows`; the code export copies
their self-contained helpers into the exported script.

Example:

>>> from lstm_explorer.datasets import chars, units
>>> chars.decode(chars.encode("x = 'é'"))
"x = '¤'"
>>> units.pattern_values("f('a')", "in_string").tolist()
[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
"""
