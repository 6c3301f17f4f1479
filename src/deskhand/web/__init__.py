"""`deskhand serve`: the web UI (start tasks, watch live, approve, take over, replay)."""
