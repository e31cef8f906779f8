"""The minion: node agent and kubelet (see DESIGN.md)."""
