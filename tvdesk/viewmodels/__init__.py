"""What the shells show, as plain data: the results table, live progress, the parameter
surface, one trial in detail, the lineage tree, text summaries. No Qt and no printing: the
GUI's views draw these, the CLI prints them, and tests check them without a window."""
