"""ipywidgets panels (rating, prompt grid, training monitor, sweep board, EDA).

The panels arrive with their stages; each keeps its state in traitlets and calls a stage API.
"""

__all__: list[str] = []
