"""miniai: a small, hackable training library for the accelerated-SGD lesson.

Importing the package is deliberately cheap: submodules (``miniai.learner``,
``miniai.activations`` ...) are imported explicitly by the lesson, so nothing
heavy (datasets, matplotlib) is loaded here.
"""
__version__ = "0.1.0"
