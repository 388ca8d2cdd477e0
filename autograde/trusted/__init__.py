"""The trusted side: the solution versions, the mistake catalogue, the judge, and grading one
submission. Runs only in the grader's own process; never shipped in the kit, never visible to a
student's kernel (tests/test_trust_line.py)."""
