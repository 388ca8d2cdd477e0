"""What runs inside the sandbox beside the student's kernel: the runner that executes the notebook
and the channel it reports through. The sandbox exposes this folder whole (and nothing else of
running/); neither module imports anything of the course."""
