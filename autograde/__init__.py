"""The grader for the accelerated-SGD lesson (see autograde/cli.py for the commands)."""
import sys

# jsonschema (under nbformat and nbgrader) imports rfc3987_syntax when it is installed, and that
# compiles a grammar on every start, slower than the rest of the import (`python -X importtime -c
# "import rfc3987_syntax"` shows it); no notebook or gradebook schema checks IRI formats.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
