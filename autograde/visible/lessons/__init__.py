"""The lessons this installation holds, one package each (see autograde/visible/lesson.py)."""
