"""Thread-count autotuning on real tiny artifacts: the choice is the argmin of what was measured."""

from __future__ import annotations

import pytest

from tests._export_helpers import exported
from toolkit._deps import HAS_EXECUTORCH, HAS_ONNXRUNTIME
from toolkit.errors import UsageError
from toolkit.profile.protocol import ProfileConfig, result_schema_problem
from toolkit.profile.threads import autotune, candidate_threads, measure_with_threads, parse_threads, pick_fastest

pytestmark = pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed")


def _executorch_pool() -> int:
    from toolkit.runtimes.executorch import portable_lib_thread_count

    return portable_lib_thread_count()


def test_parse_threads():
    assert parse_threads("auto") is None and parse_threads(" AUTO ") is None
    assert parse_threads("0") == 0 and parse_threads("3") == 3
    for bad in ("-1", "many", "1.5"):
        with pytest.raises(UsageError, match="threads"):
            parse_threads(bad)


def test_pick_fastest_is_the_argmin_and_ties_go_to_fewer_threads():
    assert pick_fastest({1: 0.50, 2: 0.31, 4: 0.33}) == 2
    assert pick_fastest({4: 0.3, 2: 0.3, 8: 0.4}) == 2
    with pytest.raises(ValueError):
        pick_fastest({})


def test_candidates_cover_the_usable_cores():
    cands = candidate_threads()
    assert cands[0] == 1 and cands == list(range(1, len(cands) + 1))


@pytest.mark.parametrize("target", ["onnx", "executorch"])
def test_autotune_measures_every_candidate_and_picks_the_fastest(target):
    if target == "executorch" and not HAS_EXECUTORCH:
        pytest.skip("executorch not installed")
    art = exported(target, 0.25, 64).path
    pool = _executorch_pool() if target == "executorch" else None
    choice = autotune(art, candidates=[1, 2], rounds=2, warmup=2, block_s=0.02, min_runs=4)
    assert pool is None or _executorch_pool() == pool  # the process-wide pool is put back
    assert set(choice.medians_ms) == {1, 2} and all(m > 0 for m in choice.medians_ms.values())
    assert all(n >= 2 * 4 for n in choice.runs.values())  # min_runs per block × rounds
    assert choice.threads in (1, 2) and choice.threads == pick_fastest(choice.medians_ms)


def test_host_record_says_how_threads_were_chosen():
    from toolkit.profile.devices import get_device

    host, art = get_device("host"), exported("onnx", 0.25, 64).path
    cfg = ProfileConfig(warmup=1, iterations=5)
    auto = measure_with_threads(host, art, cfg, None)
    c = auto["config"]
    assert c["threads_chosen_by"] == "autotune" and c["threads"] in candidate_threads()
    assert set(c["threads_tuning_ms"]) == {str(n) for n in candidate_threads()}
    assert c["threads"] == pick_fastest({int(k): v for k, v in c["threads_tuning_ms"].items()})
    assert measure_with_threads(host, art, cfg, 1)["config"]["threads_chosen_by"] == "user"
    assert measure_with_threads(host, art, cfg, 0)["config"]["threads_chosen_by"] == "runtime_default"
    assert result_schema_problem(auto) is None
    auto["config"]["threads_chosen_by"] = "guess"
    assert "threads_chosen_by" in result_schema_problem(auto)


def test_cli_profile_autotunes_by_default(tmp_path, capsys):
    from toolkit.cli import main

    art = exported("onnx", 0.25, 64).path
    assert main(["profile", str(art), "-n", "5", "--warmup", "1", "--no-store"]) == 0
    out = capsys.readouterr().out
    assert "autotuned" in out and "thread autotune (median per thread count)" in out
    assert main(["profile", str(art), "--threads", "lots", "--no-store"]) == 2
