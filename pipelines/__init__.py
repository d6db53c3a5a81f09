"""Thin jobs that compose churnseg steps and own the I/O; `cli.py` is the `churnseg` command."""
