"""The Streamlit side of LSTM Explorer: widgets generated from the registry, the shared
frame, the panels the pages draw, and the per-session state.

The only part of the package that imports Streamlit (the pure helpers here, `guide`
and `downloads`, do not need it but live beside the widgets they serve).
"""
