"""UI-layer helpers shared by pages: Streamlit caching and widgets. No computation here."""
