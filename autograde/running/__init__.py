"""Running a notebook: preparing it, the bubblewrap sandbox, the kernel runner inside it, cgroups and
GPU slots. Shipped in the student kit (`autograde check` runs the lesson the grader's way); never
given the solutions: callers pass the notebook and what the kernel may see."""
