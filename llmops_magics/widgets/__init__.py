"""ipywidgets panels (rating, prompt grid, training monitor, sweep board, EDA, monitor).

Each panel keeps its state in traitlets and calls a stage API; every button has a public method.
Importing this package registers the panels with :mod:`llmops_magics.progress` (panels by result
type, live views by kind of work), which is how stages show them without importing them.
"""

from llmops_magics.widgets._views import install, panel_for

__all__ = ["install", "panel_for"]

install()
