"""What a run leaves: the request table and its summary, tallies of streamed runs, spooled rows, the output
folder written atomically, provenance, and the per-run metrics that studies average."""
