"""Runs pytest or unittest for grading, so that files in the work tree cannot stand in for the runner.

Usage: python -s -B python_runner.py (pytest|unittest) ARGS...   (from the work tree, as the task's
command would run `python -m pytest|unittest ARGS`). The framework is imported from the
interpreter's own library BEFORE the work tree goes on sys.path (as `python -m` would put it first):
a unittest.py, pytest.py or _pytest/ in the tree is never loaded in its place. This file lives
outside the tree, alone in its directory (Python puts that directory first on sys.path).
Compatible with Python 3.5+ (SWE-bench images run old interpreters).
"""
import os
import sys


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("pytest", "unittest"):
        sys.stderr.write("usage: python_runner.py (pytest|unittest) ARGS...\n")
        return 4
    mode, args = sys.argv[1], sys.argv[2:]
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    if mode == "pytest":
        import pytest  # noqa: F401  (the interpreter's own, before the tree is on the path)
        import _pytest.config  # noqa: F401
        import _pytest.main  # noqa: F401
        import _pytest.runner  # noqa: F401
        import _pytest.terminal  # noqa: F401

        sys.path.insert(0, os.getcwd())
        sys.argv = ["pytest"] + args
        entry = getattr(pytest, "console_main", None) or pytest.main
        return entry()
    import argparse  # noqa: F401
    import difflib  # noqa: F401
    import fnmatch  # noqa: F401
    import pprint  # noqa: F401
    import traceback  # noqa: F401
    import unittest
    import unittest.case  # noqa: F401
    import unittest.loader  # noqa: F401
    import unittest.main  # noqa: F401
    import unittest.result  # noqa: F401
    import unittest.runner  # noqa: F401
    import unittest.suite  # noqa: F401

    sys.path.insert(0, os.getcwd())
    sys.argv = ["python -m unittest"] + args
    unittest.main(module=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
