"""The results DB's schema 2: cloud jobs and uploads, remembered so a re-run resumes instead of resubmitting."""

from __future__ import annotations

import sqlite3

import pytest

from toolkit.results import _MIGRATIONS, OPEN_JOB_STATES, SCHEMA_VERSION, ResultsDB


def _record(sha: str = "a" * 64, job: dict | None = None) -> dict:
    from toolkit.profile.stats import summarize

    rec = {
        "schema_version": 1, "timestamp": "2026-01-01T00:00:00Z",
        "device": {"kind": "android", "name": "Samsung Galaxy S24", "os": "Android 14", "service": "aihub",
                   "chipset": "qualcomm-snapdragon-8gen3"},
        "runtime": {"name": "tflite", "version": "service-managed (AI Hub x)", "compute_units": {"NPU": 30}},
        "artifact": {"sha256": sha, "file": "m.tflite"},
        "config": {"threads": 0, "warmup": 0, "iterations": 3},
        "latency_ms": [1.0, 1.1, 1.2], "stats": summarize([1.0, 1.1, 1.2]).to_dict(),
        "latency_source": "service_samples",
        "layers": [{"name": "conv_0", "type": "CONV_2D", "compute_unit": "NPU", "time_us": 40, "cycles": None}],
    }  # fmt: skip
    if job:
        rec["job"] = job
    return rec


def test_a_version_1_db_gains_the_job_tables_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v1.db"
    con = sqlite3.connect(path)
    for sql in _MIGRATIONS[1]:
        con.execute(sql)
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with ResultsDB(path) as db:
        db.insert(_record())
    with ResultsDB(path) as db:  # twice: the migration runs once
        assert db.count() == 1 and db.jobs() == []
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"results", "jobs", "service_models"} <= tables
    con.close()


def test_job_lifecycle_and_lookup(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        args = dict(device="Samsung Galaxy S24", artifact_sha256="a" * 64, kind="profile", request="--x 1")
        db.save_job("aihub", "j1", url="https://hub/jobs/j1/", **args)
        assert db.open_job("aihub", **args)["job_id"] == "j1"
        assert db.open_job("aihub", **{**args, "request": "--x 2"}) is None  # another protocol: another job
        db.set_job_state("aihub", "j1", "running")
        assert db.open_job("aihub", **args)["state"] == "running"
        db.set_job_state("aihub", "j1", "failed", "Out of memory (https://hub/jobs/j1/)")
        assert db.open_job("aihub", **args) is None  # a failed job is history: the re-run submits again
        failed = db.jobs("aihub", ["failed"])[0]
        assert failed["message"].startswith("Out of memory") and failed["finished_at"]
        with pytest.raises(ValueError, match="unknown job state"):
            db.set_job_state("aihub", "j1", "exploded")
        assert set(OPEN_JOB_STATES) == {"submitted", "running", "succeeded"}


def test_storing_a_cloud_record_marks_its_job_stored_in_the_same_write(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        db.save_job("aihub", "j7", device="Samsung Galaxy S24", artifact_sha256="b" * 64, kind="profile", request="")
        db.set_job_state("aihub", "j7", "succeeded")
        db.insert(_record("b" * 64, job={"service": "aihub", "id": "j7", "url": None, "service_version": None}))
        assert db.jobs()[0]["state"] == "stored" and db.count() == 1
        with pytest.raises(Exception, match="schema"):  # an invalid record changes neither table
            db.insert({**_record("c" * 64, job={"service": "aihub", "id": "j7"}), "latency_source": "guess"})
        assert db.count() == 1


def test_uploaded_models_are_cached_by_content_hash(tmp_path):
    with ResultsDB(tmp_path / "r.db") as db:
        assert db.cached_model("aihub", "a" * 64) is None
        db.cache_model("aihub", "a" * 64, "m123")
        db.cache_model("aihub", "a" * 64, "m456")  # re-uploaded after the service dropped it
        assert db.cached_model("aihub", "a" * 64) == "m456" and db.cached_model("devicefarm", "a" * 64) is None
