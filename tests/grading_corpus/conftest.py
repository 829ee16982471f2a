# The corpus holds hostile notebooks (infinite loops, memory bombs, code that edits
# the package's files) for the grader's tests: pytest must never run them itself.
collect_ignore_glob = ["submissions/*", "submissions/**/*", "*.ipynb", "*.py"]
