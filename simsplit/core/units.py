"""Unit conversions at the edges: inputs and outputs speak ms, Mbps, mW, KB; everything inside is SI.

Multiply an edge value by its constant to get SI (``delay_ms * MS`` is seconds); divide to go back.
"""

MS = 1e-3
"""Seconds per millisecond."""
MBPS = 1e6
"""Bits per second per Mbps (10^6 bit/s)."""
MHZ = 1e6
"""Hertz per MHz."""
MW = 1e-3
"""Watts per milliwatt."""
MJ = 1e-3
"""Joules per millijoule."""
BITS_PER_BYTE = 8
KB = 1e3
"""Bytes per KB (10^3 bytes)."""
