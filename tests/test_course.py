"""Which course `autograde` grades: the one it runs in (its nbgrader_config.py) or --course, never
the folder the package was installed from; and where nbgrader's settings put each output."""
import pytest

from autograde import course
from autograde.course import CourseError, find_course

CONFIG = '''c = get_config()
c.CourseDirectory.source_directory = "src"
c.CourseDirectory.submitted_directory = "handed_in"
c.CourseDirectory.course_id = "course101"
'''


@pytest.fixture
def clone(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(CONFIG)
    (tmp_path / "submitted_here" / "deep").mkdir(parents=True)
    return tmp_path


def test_the_course_is_the_nearest_folder_with_an_nbgrader_config(clone):
    found = find_course(cwd=clone / "submitted_here" / "deep")
    assert found.root == clone and found.config == clone / "nbgrader_config.py"


def test_course_names_the_folder(clone, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert find_course(clone, cwd=elsewhere).root == clone


def test_no_course_is_a_one_line_error(tmp_path):
    with pytest.raises(CourseError) as e:
        find_course(cwd=tmp_path)
    assert e.value.message == (f"no nbgrader_config.py in {tmp_path} or above it: run autograde in the course "
                               f"folder or name it with --course DIR")


def test_nbgrader_settings_decide_the_paths(clone):
    c = find_course(cwd=clone)
    assert c.solutions == clone / "src" / "accel_sgd" / "accel_sgd.ipynb"
    assert c.submitted == clone / "handed_in" and c.course_id == "course101"
    out = c.output()
    assert (out.root, out.autograded, out.feedback) == (clone, clone / "autograded", clone / "feedback")
    assert out.db_url == f"sqlite:///{clone / 'gradebook.db'}" and out.grader == clone / "grader"


def test_another_out_gets_the_same_layout(clone, tmp_path_factory):
    other = tmp_path_factory.mktemp("out")
    out = find_course(cwd=clone).output(other)
    assert (out.autograded, out.feedback, out.grader) == (other / "autograded", other / "feedback", other / "grader")
    assert out.db_url == f"sqlite:///{other / 'gradebook.db'}"


def test_the_line_that_says_which_course(clone, monkeypatch):
    monkeypatch.delenv("AUTOGRADE_SOLUTIONS", raising=False)
    assert course.describe(find_course(cwd=clone)) == (
        f"course: {clone} (settings: {clone / 'nbgrader_config.py'}; solutions: {clone}/src/accel_sgd/accel_sgd.ipynb)")
