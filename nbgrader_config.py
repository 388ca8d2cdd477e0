"""nbgrader settings for the course: solutions/ is the source, lessons/ the student release.

Run nbgrader commands from the repository root so that these paths resolve.
"""
c = get_config()  # noqa: F821 (provided by nbgrader/traitlets)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.course_id = "accel_sgd_course"
