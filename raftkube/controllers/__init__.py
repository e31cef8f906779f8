"""Controllers on the elected leader: scheduler, replication manager, endpoints, node lifecycle (see DESIGN.md)."""
