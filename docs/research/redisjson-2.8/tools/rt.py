#!/usr/bin/env python3
"""Transcript runner (the code is in rt_lib.py, which the other tools import)."""
from rt_lib import main

main()
