"""The student copies stop at their first exercise (``raise NotImplementedError``) by design, so nbval does not
run them; tests/test_assignments.py checks that they are in sync with the instructor notebooks and that they
run up to their first exercise."""
collect_ignore_glob = ["*.ipynb"]
