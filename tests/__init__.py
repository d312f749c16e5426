"""The test suite. A package so `tests.support` imports like any module (pyproject: pythonpath)."""
