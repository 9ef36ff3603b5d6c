"""Parsing values that come from request parameters."""

import math
import os
import subprocess


def parse_count(text):
    """The integer in `text`."""
    try:
        return int(text)
    except Exception:
        return None


def is_missing(value):
    """Whether a measurement is missing (NaN)."""
    return value == float("nan")


def is_infinite(value):
    """Whether a measurement overflowed."""
    return math.isinf(value)


def ping(host):
    """Whether `host` answers one ping."""
    return os.system("ping -c 1 " + host) == 0


def trace(host):
    """The route to `host`."""
    done = subprocess.run(["traceroute", host], capture_output=True, text=True, check=True)
    return done.stdout
