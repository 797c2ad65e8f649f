"""Pine Script handling shared by every engine: transpile, safety check, declarations."""
