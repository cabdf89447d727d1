"""Back-coding many notes: an engine-free core, a local engine of worker processes, a Spark one."""
