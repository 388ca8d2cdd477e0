"""Where things are: the repository (or the unpacked student kit) and the lesson's assignment name."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "accel_sgd"
