"""The torch parts (the ``ml`` extra): measuring per-split profiles and training bottlenecks."""
