"""Computing one cell, in its own process: load, fit, predict, measure (the only place that
times and samples memory), its inference variants and generation, and its records."""
