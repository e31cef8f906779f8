"""The service proxy on every minion (see DESIGN.md)."""
