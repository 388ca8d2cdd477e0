"""nbgrader settings for the course: solutions/ is the source, lessons/ the student release.

Run nbgrader commands from the repository root so that these paths resolve.
"""
c = get_config()  # noqa: F821 (provided by nbgrader/traitlets)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.course_id = "accel_sgd_course"

# One grade, whichever command runs: `nbgrader autograde`, `nbgrader generate_feedback` and formgrader's
# Autograde and Generate Feedback buttons use the grader's engine (autograde/nbgrader_engine.py), as
# `autograde grade` does: the submission rebuilt from the course, a sandboxed kernel that only produces
# data, the trusted judge, partial credit, the named mistake as the comment, and the grader's feedback
# page (no hidden test in it). Classes are named as text, so commands that do not grade never import them.
# To get plain nbgrader back (hidden tests run in the student's kernel, all-or-nothing points, nbgrader's
# own page showing the test cells), delete the four lines below.
c.Autograde.sanitize_preprocessors = ["autograde.nbgrader_engine.GradeSubmission"]
c.Autograde.autograde_preprocessors = ["autograde.nbgrader_engine.RecordVerdicts"]
c.GenerateFeedback.preprocessors = []
c.GenerateFeedback.exporter_class = "autograde.nbgrader_engine.FeedbackPage"
