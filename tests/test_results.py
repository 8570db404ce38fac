"""The SQLite results store: schema validation, corrupt files, two concurrent writer processes."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._export_helpers import exported
from toolkit.errors import ToolkitError
from toolkit.profile.host import HostDevice
from toolkit.profile.protocol import ProfileConfig
from toolkit.results import ResultsDB, load_records, write_json_export


@pytest.fixture(scope="module")
def record() -> dict:
    """One real host measurement of a tiny ONNX MobileNet (α 0.25, ρ 32)."""
    art = exported("onnx", 0.25, 32).path
    return HostDevice().run(art, ProfileConfig(warmup=2, iterations=20))


def _variant(rec: dict, i: int) -> dict:
    r = copy.deepcopy(rec)
    r["artifact"]["sha256"] = f"{i:064x}"
    return r


def test_insert_roundtrip_and_fingerprint(tmp_path, record):
    with ResultsDB(tmp_path / "r.db") as db:
        db.insert(record)
        assert db.count() == 1 and db.records() == [record]
        row = db._con.execute(
            "SELECT cpu, cores, os, runtime, runtime_version, toolkit_version, threads FROM results"
        ).fetchone()
    assert row[1] >= 1 and row[2] and row[3] == "onnxruntime" and row[4] and row[5] and row[6] == 0
    mode = ResultsDB(tmp_path / "r.db")._con.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_invalid_record_is_rejected_and_not_stored(tmp_path, record):
    bad = copy.deepcopy(record)
    bad["stats"]["median_ms"] = "fast"
    worse = copy.deepcopy(record)
    del worse["latency_ms"]
    with ResultsDB(tmp_path / "r.db") as db:
        for r in (bad, worse):
            with pytest.raises(ToolkitError, match="schema"):
                db.insert(r)
        assert db.count() == 0


def test_garbage_file_is_a_clear_error(tmp_path):
    path = tmp_path / "r.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ToolkitError, match="damaged or not a results database") as e:
        ResultsDB(path)
    assert "\n" not in str(e.value)
    assert path.read_bytes().startswith(b"this is not")  # left untouched


def test_damaged_pages_are_reported_not_skipped(tmp_path, record):
    path = tmp_path / "r.db"
    with ResultsDB(path) as db:
        for i in range(60):
            db.insert(_variant(record, i))
        db._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    assert len(data) > 8192
    data[4096:8192] = b"\xff" * 4096  # smash the second page (table b-tree)
    path.write_bytes(bytes(data))
    with pytest.raises(ToolkitError, match="damaged"), ResultsDB(path) as db:
        db.records()


def _writers(tmp_path, record, body: str, tags: tuple[str, ...], **popen) -> tuple[list, Path]:
    """One writer process per tag, each running ``body`` with ``rec`` (the record), ``db`` (the shared
    database) and ``tag`` (its argv tag) defined; returns the processes and the database path."""
    src = tmp_path / "rec.json"
    src.write_text(json.dumps(record))
    db_path = tmp_path / "shared.db"
    code = (
        "import json, sys, copy\n"
        "from toolkit.results import ResultsDB\n"
        "rec = json.load(open(sys.argv[1])); tag = sys.argv[3]\n"
        "db = ResultsDB(sys.argv[2])\n" + body
    )
    cmd = [sys.executable, "-c", code, str(src), str(db_path)]
    return [subprocess.Popen([*cmd, tag], **popen) for tag in tags], db_path


def test_two_concurrent_writer_processes(tmp_path, record):
    body = (
        "for i in range(40):\n"
        "    r = copy.deepcopy(rec); r['artifact']['sha256'] = f'{int(tag):08x}{i:056x}'; db.insert(r)\n"
    )
    procs, db_path = _writers(tmp_path, record, body, ("1", "2"))
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with ResultsDB(db_path) as db:
        shas = [r["artifact"]["sha256"] for r in db.records()]
    assert len(shas) == 80 == len(set(shas))


def test_json_export_roundtrip(tmp_path, record):
    path = write_json_export([record, _variant(record, 1)], tmp_path / "x.json")
    assert load_records(path)[1]["artifact"]["sha256"] == f"{1:064x}"
    single = tmp_path / "one.json"  # what a phone app writes: one bare record
    single.write_text(json.dumps(record))
    assert load_records(single) == [record]
    db = tmp_path / "r.db"
    with ResultsDB(db) as store:
        store.insert(record)
    assert load_records(db) == [record]
    with pytest.raises(ToolkitError):
        load_records(Path(tmp_path / "missing.db"))


def test_unversioned_db_from_the_first_release_is_migrated_in_place(tmp_path, record):
    """A DB written before the store carried a schema version opens, keeps its rows, and is stamped."""
    import sqlite3

    from toolkit.results import _MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    for sql in _MIGRATIONS[1]:  # exactly the first release's DDL, user_version left at 0
        con.execute(sql)
    con.commit()
    con.close()
    with ResultsDB(path) as db:
        db.insert(record)
    with ResultsDB(path) as db:
        assert db.count() == 1
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    con.close()


def test_db_from_a_newer_toolkit_is_refused_untouched(tmp_path, record):
    import sqlite3

    from toolkit.results import SCHEMA_VERSION

    path = tmp_path / "new.db"
    with ResultsDB(path) as db:
        db.insert(record)
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(ToolkitError, match="newer toolkit"):
        ResultsDB(path)
    assert path.read_bytes() == before


def test_two_processes_storing_one_run_request_store_it_once(tmp_path, record):
    """insert_once checks and inserts in one write transaction: racing writers of one key store one row."""
    body = (
        "stored = 0\n"
        "for i in range(30):\n"
        "    r = copy.deepcopy(rec); r['artifact']['sha256'] = f'{i:064x}'\n"
        "    stored += db.insert_once(r, key=f'key-{i}', sweep_id=tag) is not None\n"
        "print(stored)\n"
    )
    procs, db_path = _writers(tmp_path, record, body, ("a", "b"), stdout=subprocess.PIPE, text=True)
    stored = [int(p.communicate(timeout=120)[0]) for p in procs]
    assert [p.returncode for p in procs] == [0, 0] and sum(stored) == 30
    with ResultsDB(db_path) as db:
        keys = [k for (k,) in db._con.execute("SELECT run_key FROM results")]
    assert sorted(keys) == sorted(f"key-{i}" for i in range(30))


def test_a_schema_3_db_gains_the_flags_column_and_keeps_its_rows(tmp_path, record):
    import sqlite3

    from toolkit.results import _MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "v3.db"
    con = sqlite3.connect(path)
    for version in (1, 2, 3):  # a DB exactly as the toolkit before the flags left it
        for sql in _MIGRATIONS[version]:
            con.execute(sql)
    con.execute("PRAGMA user_version = 3")
    con.commit()
    con.close()
    old = {k: v for k, v in record.items() if k not in ("flags", "environment", "rounds", "bimodality")}
    with ResultsDB(path) as db:
        db.insert(old)
        db.insert({**old, "flags": ["busy", "bimodal"]})
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    assert con.execute("SELECT flags FROM results ORDER BY id").fetchall() == [(None,), ("busy,bimodal",)]
    con.close()
