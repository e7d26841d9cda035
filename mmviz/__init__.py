"""mmviz: interactive exploration of multimodal representation learning.

The package computes; it never imports Streamlit. `app.py` and `pages/` are the UI layer.
"""

__version__ = "0.1.0"
