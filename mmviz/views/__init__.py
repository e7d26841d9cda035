"""View builders: everything a page shows, computed in the backend and unit-tested without
Streamlit. A page builds its view from the model, the sample and its `PageState` settings, then
only lays it out (`render`)."""
