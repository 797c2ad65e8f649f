"""Application services: what the CLI and the GUI both call. No printing, no Qt."""
