"""miniai: a small, hackable training library for the accelerated-SGD lesson.

It follows the miniai library that fast.ai's "Practical Deep Learning for Coders, part 2" builds in its
notebooks (https://github.com/fastai/course22p2, Apache License 2.0): the same module names
(`datasets`, `conv`, `learner`, `activations`, `init`) and the same public names and signatures, so the
course's `from miniai.<module> import *` cells run unchanged. The code is written anew here; see NOTICE.

The teaching modules are meant to be read in an evening. The data plumbing (finding FashionMNIST offline,
the IDX format, batch reads) lives apart in the `miniai.data` subpackage.

Importing the package is deliberately cheap: submodules are imported explicitly by the lesson, so nothing
heavy (datasets, matplotlib) is loaded here.
"""
__version__ = "0.1.0"
