"""make bench: measure the running lab (req/s, latency, CPU per request per tier, operations)."""
