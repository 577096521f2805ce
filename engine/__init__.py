"""Engines: LCE conversion and latency measurement on the host and on remote devices."""
