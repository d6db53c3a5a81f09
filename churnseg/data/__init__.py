"""Data contract, table I/O and the simulator."""
