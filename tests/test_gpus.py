"""Which GPU each running submission gets: fake device lists on any machine, real GPUs when present."""
import asyncio
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from autograde import paths
from autograde.running import gpus
from autograde.running.gpus import CPU, WORKER, GpuChoiceError, Slot

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bench/gpu_checks.sh runs these)")
needs_two_gpus = pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")


def four_gpus():
    return 4


# --------------------------------------------------------------------------- discovery

def test_cuda_visible_devices_decides_which_gpus_grading_may_use():
    assert gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": "2,3"}, count=four_gpus) == ["2", "3"]


def test_without_cuda_visible_devices_every_gpu_torch_sees_is_used():
    assert gpus.visible_gpus({}, count=four_gpus) == ["0", "1", "2", "3"]


@pytest.mark.parametrize("value", ["", "-1", " "])
def test_an_empty_or_negative_cuda_visible_devices_means_no_gpu(value):
    assert gpus.visible_gpus({"CUDA_VISIBLE_DEVICES": value}, count=four_gpus) == []


def test_cuda_visible_devices_is_read_up_to_its_first_invalid_entry_as_cuda_does():
    assert gpus.parse_visible("1,-1,2") == ["1"]
    assert gpus.parse_visible("GPU-8a1f,GPU-77c0") == ["GPU-8a1f", "GPU-77c0"]


def test_gpus_option_chooses_among_the_available_ones():
    assert gpus.choose("0,2", ["0", "1", "2", "3"]) == ["0", "2"]
    assert gpus.choose(None, ["0", "1"]) == ["0", "1"]


def test_gpus_none_grades_on_the_cpu():
    assert gpus.choose("none", ["0", "1"]) == []


def test_a_gpu_that_is_not_available_is_refused_with_the_ones_that_are():
    with pytest.raises(GpuChoiceError, match=r"GPU\(s\) 5 not available here; the GPUs grading may use are: 0,1"):
        gpus.choose("0,5", ["0", "1"])


def test_a_gpu_named_twice_is_refused():
    with pytest.raises(GpuChoiceError, match="name each GPU once"):
        gpus.choose("1,1", ["0", "1"])


# --------------------------------------------------------------------------- plan

def test_jobs_default_to_one_submission_per_gpu():
    plan = gpus.plan(environ={}, count=four_gpus, cores=64)
    assert (plan.gpus, plan.per_gpu, plan.jobs) == (["0", "1", "2", "3"], 1, 4)
    assert [s.device for s in plan.slots] == ["0", "1", "2", "3"]


def test_per_gpu_k_shares_each_gpu_k_ways_and_splits_its_memory():
    plan = gpus.plan("0,2", per_gpu=2, environ={}, count=four_gpus)
    assert plan.jobs == 4
    assert [s.device for s in plan.slots] == ["0", "2", "0", "2"]  # the first submissions spread over the GPUs
    assert {s.memory_fraction for s in plan.slots} == {0.45}


def test_more_jobs_than_gpu_slots_are_lowered_with_a_note():
    plan = gpus.plan(jobs=8, environ={"CUDA_VISIBLE_DEVICES": "0,1"}, count=four_gpus)
    assert plan.jobs == 2
    assert plan.notes == ["--jobs 8 lowered to 2: 2 GPU(s) x 1 per GPU (--per-gpu K lets K submissions share a GPU)"]


def test_fewer_jobs_than_gpus_use_only_as_many_at_once():
    plan = gpus.plan(jobs=2, environ={}, count=four_gpus)
    assert plan.jobs == 2 and len(plan.slots) == 4


def test_without_gpus_jobs_default_to_one_per_two_cores_and_kernels_see_no_gpu():
    plan = gpus.plan(environ={}, count=lambda: 0, cores=16)
    assert (plan.gpus, plan.jobs) == ([], 8)
    assert set(plan.slots) == {Slot(CPU)}


def test_gpus_none_on_a_gpu_machine_hides_the_gpus_from_the_kernels():
    plan = gpus.plan("none", jobs=3, environ={}, count=four_gpus)
    assert plan.gpus == [] and plan.slots == [Slot(CPU)] * 3
    assert gpus.kernel_env(plan.slots[0]) == {"CUDA_VISIBLE_DEVICES": ""}


@pytest.mark.parametrize("kwargs, message", [({"per_gpu": 0}, "--per-gpu 0: must be 1 or more"),
                                             ({"jobs": 0}, "--jobs 0: must be 1 or more")])
def test_nonsense_counts_are_refused(kwargs, message):
    with pytest.raises(GpuChoiceError, match=message):
        gpus.plan(environ={}, count=four_gpus, **kwargs)


def test_the_plan_says_what_grading_will_use():
    assert gpus.plan(per_gpu=2, environ={}, count=lambda: 2).describe() == (
        "grading on GPU(s) 0,1, 2 per GPU: 4 submission(s) at once, each kernel seeing only its GPU and "
        "capped at 45% of its memory")


# --------------------------------------------------------------------------- assignment

def _grade_concurrently(slots, n_items, limit=None):
    """Run n_items fake submissions through run_on_slots on threads. Returns the results, the devices
    used, and the most submissions that ever ran at once, in all and on any one device."""
    lock, busy, used, peak, peak_one = threading.Lock(), [], set(), [0], [0]

    def fake_submission(item, slot):
        with lock:
            busy.append(slot.device)
            used.add(slot.device)
            peak[0] = max(peak[0], len(busy))
            peak_one[0] = max(peak_one[0], busy.count(slot.device))
        time.sleep(0.002)  # let others start meanwhile
        with lock:
            busy.remove(slot.device)
        return item

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(gpus.run_on_slots(slots, range(n_items), lambda i, s: pool.submit(fake_submission, i, s),
                                         limit))
    return sorted(results), used, peak[0], peak_one[0]


def test_no_two_running_submissions_share_a_gpu_and_every_submission_runs_once():
    results, used, peak, peak_one = _grade_concurrently(gpus.make_slots(["0", "1", "2"], 1), 30)
    assert results == list(range(30))
    assert used == {"0", "1", "2"} and peak <= 3 and peak_one == 1


def test_k_per_gpu_runs_at_most_k_submissions_on_one_gpu():
    results, used, peak, peak_one = _grade_concurrently(gpus.make_slots(["0", "1"], 2), 20)
    assert results == list(range(20)) and peak <= 4 and peak_one <= 2


def test_a_limit_below_the_slots_bounds_how_many_run_at_once():
    _, used, peak, peak_one = _grade_concurrently(gpus.make_slots(["0", "1", "2", "3"], 1), 12, limit=2)
    assert peak <= 2 and peak_one == 1
    assert used == {"0", "1"}  # the first two slots: two different GPUs


def test_a_slot_pool_hands_out_each_slot_once_until_it_is_given_back():
    pool = gpus.SlotPool([Slot("0"), Slot("1")])
    first, second = pool.acquire(), pool.acquire()
    assert {first.device, second.device} == {"0", "1"} and pool.free() == []
    pool.release(first)
    assert pool.acquire() == first


# --------------------------------------------------------------------------- the kernel's environment

def test_a_kernel_sees_only_its_gpu_with_its_memory_cap_and_deterministic_cublas():
    assert gpus.kernel_env(Slot("2", 0.45)) == {
        "CUDA_VISIBLE_DEVICES": "2", "PYTORCH_CUDA_ALLOC_CONF": "per_process_memory_fraction:0.45",
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}


def test_a_task_on_a_dask_cuda_worker_uses_the_first_gpu_of_the_workers_list():
    env = gpus.kernel_env(Slot(WORKER, 0.9), {"CUDA_VISIBLE_DEVICES": "3,0,1,2"})
    assert env["CUDA_VISIBLE_DEVICES"] == "3"


def test_a_worker_without_a_gpu_of_its_own_leaves_the_kernel_the_machines_view():
    env = gpus.kernel_env(Slot(WORKER, 0.9), {})
    assert "CUDA_VISIBLE_DEVICES" not in env and env["PYTORCH_CUDA_ALLOC_CONF"] == "per_process_memory_fraction:0.9"


def test_torch_accepts_the_memory_cap_setting():
    value = gpus.kernel_env(Slot("0", gpus.memory_fraction(3)))["PYTORCH_CUDA_ALLOC_CONF"]
    code = ("import os, torch; set_conf = getattr(torch._C, '_accelerator_setAllocatorSettings', None) or "
            "torch.cuda.memory._set_allocator_settings; set_conf(os.environ['PYTORCH_CUDA_ALLOC_CONF']); print('accepted')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTORCH_CUDA_ALLOC_CONF": value})
    assert out.stdout.strip() == "accepted", out.stderr
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTORCH_CUDA_ALLOC_CONF": "per_process_memory_fraction:1.5"})
    assert "per_process_memory_fraction is invalid" in bad.stderr  # so the accepted one is really read


def test_the_grader_pins_its_own_reference_runs_to_the_first_grading_gpu():
    environ = {}
    gpus.pin_this_process(["2", "3"], environ)
    assert environ == {"CUDA_VISIBLE_DEVICES": "2", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    gpus.pin_this_process([], environ)
    assert environ["CUDA_VISIBLE_DEVICES"] == ""


def test_the_grade_command_refuses_a_gpu_it_does_not_have(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1"}
    out = subprocess.run([sys.executable, "-m", "autograde.cli", "grade", str(tmp_path / "class"), "--out",
                          str(tmp_path / "out"), "--gpus", "2"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        "autograde grade: --gpus 2: GPU(s) 2 not available here; the GPUs grading may use are: 0,1 "
        "(CUDA_VISIBLE_DEVICES, else all that torch sees)")


def test_the_reference_runs_device_kind_names_the_device():
    from miniai.conv import def_device
    want = f"cuda:{torch.cuda.get_device_name(0)}" if def_device == "cuda" else def_device
    assert gpus.device_kind() == want


def test_out_of_gpu_memory_feedback_says_so_and_names_the_share():
    message = gpus.explain_oom("Your Adam cell failed (OutOfMemoryError: CUDA out of memory.), so this test "
                               "could not run.", Slot("0", 0.45))
    assert "ran out of GPU memory" in message and "at most 45% of it" in message
    assert gpus.explain_oom("AssertionError: wrong", Slot("0", 0.45)) == "AssertionError: wrong"


def test_a_real_dask_worker_passes_its_gpu_to_the_kernel_env():
    """Two real worker processes, each given a (fake) GPU the way dask-cuda does it."""
    from distributed import Client, Nanny, Scheduler

    async def main():
        async with Scheduler(port=0, dashboard_address=":0") as s:
            async with Nanny(s.address, nthreads=1, env={"CUDA_VISIBLE_DEVICES": "0,1"}) as a, \
                    Nanny(s.address, nthreads=1, env={"CUDA_VISIBLE_DEVICES": "1,0"}) as b:
                async with Client(s.address, asynchronous=True) as client:
                    slot = Slot(WORKER, gpus.memory_fraction(1))
                    envs = [await client.submit(gpus.kernel_env, slot, workers=[w.worker_address], pure=False)
                            for w in (a, b)]
        return [e["CUDA_VISIBLE_DEVICES"] for e in envs]

    assert asyncio.run(main()) == ["0", "1"]


# --------------------------------------------------------------------------- on a real GPU

def _in_kernel_env(slot, code):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(gpus.kernel_env(slot, {}))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


@needs_two_gpus
def test_on_gpus_a_kernel_sees_only_the_gpu_of_its_slot():
    code = "import torch; print(torch.cuda.device_count(), torch.cuda.get_device_properties(0).uuid)"
    want = str(torch.cuda.get_device_properties(1).uuid)
    out = _in_kernel_env(Slot("1"), code)
    assert out.stdout.split() == ["1", want], out.stderr


@needs_gpu
def test_on_a_gpu_the_memory_cap_stops_a_kernel_at_its_share():
    code = ("import torch\n"
            "print(round(torch.cuda.get_per_process_memory_fraction(), 4))\n"
            "total = torch.cuda.get_device_properties(0).total_memory\n"
            "x = torch.empty(int(total * 0.2), dtype=torch.uint8, device='cuda')\n"  # inside the share
            "try:\n"
            "    y = torch.empty(int(total * 0.3), dtype=torch.uint8, device='cuda')\n"  # beyond it
            "    print('not stopped')\n"
            "except torch.cuda.OutOfMemoryError:\n"
            "    print('stopped')\n")
    out = _in_kernel_env(Slot("0", 0.45), code)
    assert out.stdout.split() == ["0.45", "stopped"], out.stderr


@needs_gpu
def test_on_a_gpu_grading_with_gpus_none_keeps_the_graders_own_runs_on_the_cpu():
    code = ("from autograde import gpus; gpus.for_grading('none', None, None, None, say=lambda line: None)\n"
            "from miniai.conv import def_device; print(def_device)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["cpu"], out.stderr


# --------------------------------------------------------------------------- repeatable verdicts

def test_the_hidden_short_run_is_deterministic_and_leaves_torchs_setting_as_it_was():
    from autograde.visible.lessons.accel_sgd import runs
    from miniai.learner import Callback
    seen = []

    class Flag(Callback):
        def before_fit(self, learn):
            seen.append(torch.are_deterministic_algorithms_enabled())

    first = runs.short_run(torch.optim.SGD, 0.1, extra_cbs=[Flag()], epochs=1)
    second = runs.short_run(torch.optim.SGD, 0.1, epochs=1)
    assert seen == [True]
    assert torch.are_deterministic_algorithms_enabled() is False
    assert first["losses"] == second["losses"] and first["accuracy"] == second["accuracy"]


# --------------------------------------------------------------------------- through the real grader

# The Adam cell stops at its first line, as when a student's big allocation there fails: no Adam class.
OOM_ADAM = "raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB')\n"
SHOW_ENV = ("import os\nprint('GPU env:', repr(os.environ.get('CUDA_VISIBLE_DEVICES')), "
            "os.environ.get('PYTORCH_CUDA_ALLOC_CONF'), os.environ.get('CUBLAS_WORKSPACE_CONFIG'))")


# On a CPU machine, GPU "3" does not exist and the kernel trains on the CPU, as the judge does; on a GPU
# machine the kernel gets the GPU the judge's reference runs use.
SLOT_GPU = "0" if torch.cuda.is_available() else "3"


@pytest.fixture(scope="module")
def graded_on_a_fake_gpu(tmp_path_factory):
    """One real submission graded in the sandbox on GPU slot SLOT_GPU, whose Adam cell runs out of GPU memory."""
    import nbformat
    from autograde.trusted import solution as reference
    from autograde.trusted.grade import grade_submission, load_setup
    from corpus import notebook_with
    lesson = nbformat.read(paths.REPO_ROOT / "lessons" / "accel_sgd" / "accel_sgd.ipynb", as_version=4)
    sol = reference.solution_sources()
    nb = notebook_with(lesson, {**sol, "adam": OOM_ADAM + sol["adam"]}, extra_cells=[(2, SHOW_ENV)])
    old = os.environ.get("AUTOGRADE_CACHE")
    os.environ["AUTOGRADE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        return grade_submission(load_setup(), "oom", nbformat.writes(nbformat.from_dict(nb)), Slot(SLOT_GPU, 0.45))
    finally:
        os.environ.pop("AUTOGRADE_CACHE") if old is None else os.environ.__setitem__("AUTOGRADE_CACHE", old)


@pytest.mark.slow
def test_the_graded_kernel_sees_only_its_slots_gpu_with_the_memory_cap(graded_on_a_fake_gpu):
    outputs = [o.get("text", "") for c in graded_on_a_fake_gpu["executed"]["cells"] for o in c.get("outputs", [])]
    assert f"GPU env: '{SLOT_GPU}' per_process_memory_fraction:0.45 :4096:8\n" in outputs


@pytest.mark.slow
def test_running_out_of_gpu_memory_costs_only_that_exercises_tests_and_says_why(graded_on_a_fake_gpu):
    cells = {c["grade_id"]: c for c in graded_on_a_fake_gpu["cells"] if c["auto"]}
    lost = {g for g, c in cells.items() if c["score"] < c["max_score"]}
    assert lost == {g for g in cells if g.startswith("test_adam")}
    for g in lost:
        assert "ran out of GPU memory" in cells[g]["message"] and "at most 45% of it" in cells[g]["message"]
