"""Compression-aware bottlenecks for split inference, trained with torch (the ``ml`` extra)."""
