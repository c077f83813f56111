"""Suite-wide settings.

Hypothesis explores new random examples on developers' machines (that is how
it finds bugs), but CI runs a fixed, derandomized set so that a landing is
judged on the change, not on the luck of the draw; a falsifying example
found locally becomes a deterministic regression test.
"""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
