"""Benchmark of wattbase against its peers, side by side on one machine (``make bench``)."""
