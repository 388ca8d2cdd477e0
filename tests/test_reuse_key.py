"""The key under which results are kept covers all of the grader's and miniai's code, wherever it lives."""
from autograde import paths
from autograde.trusted import result_cache


def test_the_reuse_key_hashes_the_whole_package_and_miniai():
    assert [p.resolve() for p in result_cache.PACKAGE_DIRS] == [paths.REPO_ROOT / "autograde", paths.REPO_ROOT / "miniai"]


def test_editing_any_grader_module_changes_the_reuse_key(tmp_path, monkeypatch):
    for rel in ("autograde/trusted/judge.py", "autograde/visible/compare.py", "miniai/learner.py"):
        copy = tmp_path / rel.replace("/", "_")
        for root in ("autograde", "miniai"):
            (copy / root).mkdir(parents=True)
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_text("x = 1\n")
        monkeypatch.setattr(result_cache, "PACKAGE_DIRS", (copy / "autograde", copy / "miniai"))
        before = result_cache._code_digest()
        (copy / rel).write_text("x = 2\n")
        assert result_cache._code_digest() != before, rel
