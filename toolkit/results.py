"""The results store: one SQLite row per measurement, the full record kept beside the query columns.

Why SQLite in WAL mode: a sweep and a ``toolkit profile`` in another terminal (or two CI jobs on one
disk) can write at once; readers never block writers, and ``BEGIN IMMEDIATE`` plus a generous busy
timeout serialise the writers instead of failing them. Every record is validated against
``toolkit/schemas/result.schema.json`` before it is stored, and a damaged file is reported in one
line rather than read around: a results store that silently loses rows is worse than none.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from toolkit.between_runs import History, log_or_none, within_se_log
from toolkit.errors import ToolkitError, UsageError
from toolkit.schemas import validate_record

__all__ = [
    "ENV_VAR",
    "JOB_STATES",
    "OPEN_JOB_STATES",
    "SCHEMA_VERSION",
    "ResultsDB",
    "default_db_path",
    "load_records",
    "run_key",
    "write_json_export",
]

ENV_VAR = "TOOLKIT_RESULTS"
EXPORT_KIND = "mobilenet-toolkit-results"

_COLUMNS = (
    "run_key TEXT NOT NULL", "timestamp TEXT NOT NULL", "device_kind TEXT", "device_name TEXT", "device_serial TEXT",
    "os TEXT", "cpu TEXT", "cores INTEGER", "governor TEXT", "toolkit_version TEXT", "runtime TEXT",
    "runtime_version TEXT", "delegate TEXT", "artifact_sha256 TEXT NOT NULL", "artifact_file TEXT", "variant TEXT",
    "target TEXT", "precision TEXT", "weights TEXT", "threads INTEGER", "warmup INTEGER", "iterations INTEGER",
    "duration_s REAL", "n INTEGER", "median_ms REAL", "p90_ms REAL", "mean_ms REAL", "std_ms REAL", "min_ms REAL",
    "trimmed_mean_ms REAL", "ci95_low_ms REAL", "ci95_high_ms REAL", "load_ms REAL", "first_inference_ms REAL",
    "peak_memory_mb REAL", "temp_before_c REAL", "temp_after_c REAL", "sweep_id TEXT", "record_json TEXT NOT NULL",
)  # fmt: skip
_NAMES = (*(c.split()[0] for c in _COLUMNS), "source", "flags", "log_median", "se_log_within")  # + later ones
# Version 1 is the store as first released (no user_version); each later version is a list of SQL
# statements that upgrade the one before it. Append, never edit: a user's DB is migrated step by step.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY AUTOINCREMENT, " + ", ".join(_COLUMNS) + ")",
        "CREATE INDEX IF NOT EXISTS results_run_key ON results(run_key)",
    ),
    # Records say where their figures come from (schema field `source`); every stored row is a measurement.
    2: ("ALTER TABLE results ADD COLUMN source TEXT NOT NULL DEFAULT 'measured'",),
    # Cloud devices: a submitted job is looked up by its id on a re-run instead of being submitted again,
    # and an uploaded artifact is reused by its content hash. No credential ever lands here.
    3: (
        "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT NOT NULL, service TEXT NOT NULL, device TEXT NOT NULL, "
        "artifact_sha256 TEXT NOT NULL, kind TEXT NOT NULL, request TEXT NOT NULL, state TEXT NOT NULL, "
        "url TEXT, message TEXT, submitted_at TEXT NOT NULL, finished_at TEXT, PRIMARY KEY (service, job_id))",
        "CREATE INDEX IF NOT EXISTS jobs_lookup ON jobs(service, device, artifact_sha256, kind, request)",
        "CREATE TABLE IF NOT EXISTS service_models (service TEXT NOT NULL, sha256 TEXT NOT NULL, "
        "model_id TEXT NOT NULL, uploaded_at TEXT NOT NULL, PRIMARY KEY (service, sha256))",
    ),
    # The record's flags (busy, bimodal; comma-separated, NULL = none) as a column, so a query can leave
    # measurements taken on a busy machine out. Older rows have none: they predate the checks.
    4: ("ALTER TABLE results ADD COLUMN flags TEXT",),
    # The between-run spread (toolkit.between_runs) is estimated at each insert from the device's earlier rows
    # by one query: each row's log median and within-run standard error (its rounds' part lived only in the
    # JSON) become columns, filled once here for older rows by functions the store registers. The index covers
    # every column that query reads, so it never touches the rows (a row's columns added after record_json
    # sit behind its samples' JSON: reading 2000 rows that way took 25 ms), and orders a device's rows by id,
    # so the latest come without a sort. (The estimate now reads log_median only; se_log_within is still
    # written, so the column stays whole for any reader.)
    5: (
        "ALTER TABLE results ADD COLUMN log_median REAL",
        "ALTER TABLE results ADD COLUMN se_log_within REAL",
        "UPDATE results SET log_median = toolkit_ln(median_ms), se_log_within = toolkit_se_log_within(median_ms, "
        "ci95_low_ms, ci95_high_ms, json_extract(record_json, '$.rounds.se_log'))",
        "CREATE INDEX IF NOT EXISTS results_device ON results(device_kind, device_name, cpu, id, flags, "
        "artifact_sha256, runtime, runtime_version, precision, delegate, threads, sweep_id, timestamp, log_median, "
        "se_log_within)",
    ),
}
# How many of a device's latest rows the between-run estimate reads: bounds the insert's cost on a large store
# and lets a machine's older history (before an upgrade, a move) age out.
BETWEEN_RUNS_WINDOW = 2000
# The device's latest unflagged rows of other runs (a run is its sweep id, else its timestamp), each as
# (run, group key, log median) for toolkit.between_runs.estimate. Read from the covering index results_device.
_DEVICE_ROWS_SQL = """
SELECT COALESCE(sweep_id, timestamp), artifact_sha256, runtime, runtime_version, precision, delegate, threads,
       log_median
FROM results
WHERE device_kind IS ? AND device_name IS ? AND cpu IS ? AND flags IS NULL AND log_median IS NOT NULL
      AND COALESCE(sweep_id, timestamp) IS NOT ?
ORDER BY id DESC LIMIT ?
"""
# A job still worth following on a re-run: submitted or running on the service, or finished there but
# its result not stored yet. "failed" and "stored" jobs are history.
OPEN_JOB_STATES = ("submitted", "running", "succeeded")
JOB_STATES = (*OPEN_JOB_STATES, "failed", "stored")
SCHEMA_VERSION = max(_MIGRATIONS)


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_db_path() -> Path:
    """``$TOOLKIT_RESULTS``, else ``results.db`` in the per-user data dir (:func:`toolkit.paths.data_dir`)."""
    from toolkit.paths import data_dir

    return Path(os.environ[ENV_VAR]).expanduser() if os.environ.get(ENV_VAR) else data_dir() / "results.db"


def run_key(artifact_sha256: str, device: Mapping[str, Any], config: Mapping[str, Any]) -> str:
    """Identity of a measurement for resuming: same artifact bytes, same device, same protocol.

    ``config`` needs threads, warmup, iterations or duration_s, and delegate (None for the default).
    """
    ident = {
        "sha256": artifact_sha256,
        "device": [device.get("kind"), device.get("name"), device.get("serial")],
        "threads": int(config.get("threads") or 0),
        "warmup": int(config.get("warmup") or 0),
        "amount": ["s", config["duration_s"]] if config.get("duration_s") else ["n", int(config["iterations"])],
        "delegate": config.get("delegate"),
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


def _record_key(record: Mapping[str, Any]) -> str:
    cfg = dict(record["config"])
    cfg["delegate"] = record["runtime"].get("delegate")
    return run_key(record["artifact"]["sha256"], record["device"], cfg)


def _se_log_within_sql(median: float | None, low: float | None, high: float | None, rounds: float | None) -> float:
    return 0.0 if None in (median, low, high) else within_se_log(median, low, high, rounds)


def _group(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """The record's repeated-measurement group, as :data:`_DEVICE_ROWS_SQL` selects it (between run and median)."""
    rt, a = record["runtime"], record["artifact"]
    return (a["sha256"], rt["name"], rt["version"], a.get("precision"), rt.get("delegate"), record["config"]["threads"])


def _flatten(record: Mapping[str, Any], key: str, sweep_id: str | None) -> tuple[Any, ...]:
    d, rt, a, c, s = record["device"], record["runtime"], record["artifact"], record["config"], record["stats"]
    temps = record.get("temperature_c") or {}
    row = {
        "run_key": key, "timestamp": record["timestamp"], "device_kind": d.get("kind"), "device_name": d.get("name"),
        "device_serial": d.get("serial"), "os": d.get("os"), "cpu": d.get("cpu"), "cores": d.get("cores"),
        "governor": d.get("governor"), "toolkit_version": d.get("toolkit_version"), "runtime": rt["name"],
        "runtime_version": rt["version"], "delegate": rt.get("delegate"), "artifact_sha256": a["sha256"],
        "artifact_file": a["file"], "variant": a.get("variant"), "target": a.get("target"),
        "precision": a.get("precision"), "weights": a.get("weights"), "threads": c["threads"],
        "warmup": c["warmup"], "iterations": c["iterations"], "duration_s": c.get("duration_s"),
        "load_ms": record.get("load_ms"), "first_inference_ms": record.get("first_inference_ms"),
        "peak_memory_mb": record.get("peak_memory_mb"), "temp_before_c": temps.get("before"),
        "temp_after_c": temps.get("after"), "sweep_id": sweep_id, "record_json": json.dumps(record, sort_keys=True),
        "source": record.get("source") or "measured", "flags": ",".join(record.get("flags") or ()) or None,
    }  # fmt: skip
    row.update({k: s[k] for k in ("n", "median_ms", "p90_ms", "mean_ms", "std_ms", "min_ms", "trimmed_mean_ms")})
    row.update(ci95_low_ms=s["ci95_low_ms"], ci95_high_ms=s["ci95_high_ms"], log_median=log_or_none(s["median_ms"]))
    rounds_se = (record.get("rounds") or {}).get("se_log")
    row["se_log_within"] = within_se_log(s["median_ms"], s["ci95_low_ms"], s["ci95_high_ms"], rounds_se)
    return tuple(row[n] for n in _NAMES)


class ResultsDB:
    """Open (creating if needed) the store at ``path``; use as a context manager or call close()."""

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 60.0) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        if self.path.is_dir():
            raise UsageError(f"results DB path is a directory: {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(str(self.path), timeout=timeout_s, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise UsageError(f"cannot open results DB {self.path}: {e}") from None
        try:
            check = self._open(timeout_s)
        except sqlite3.DatabaseError as e:
            self._con.close()
            raise self._corrupt(e) from None
        except ToolkitError:
            self._con.close()
            raise
        if check != "ok":
            self._con.close()
            raise self._corrupt(check)
        self._pooled: dict[tuple[Any, ...], History | None] = {}  # between_runs per (device, run)
        self._pooled_version: int | None = None

    def _open(self, timeout_s: float) -> str:
        """WAL mode, the migrations and a quick check; the integrity verdict.

        Two processes opening a new file at once can get SQLITE_BUSY without the busy handler being asked
        (switching to WAL wants an exclusive lock while the other one migrates), so a busy open is retried
        until the timeout instead of being reported as a damaged file.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                # what migration 5 fills older rows with: the same functions _flatten uses
                self._con.create_function("toolkit_ln", 1, log_or_none, deterministic=True)
                self._con.create_function("toolkit_se_log_within", 4, _se_log_within_sql, deterministic=True)
                self._con.execute("PRAGMA journal_mode=WAL")
                self._con.execute("PRAGMA synchronous=NORMAL")
                self._write(self._migrate)
                return self._con.execute("PRAGMA quick_check").fetchone()[0]
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        """Bring the file to :data:`SCHEMA_VERSION` (inside the write lock, so two openers cannot race).

        A file from before versioning has the results table and user_version 0: that is version 1.
        """
        version = int(self._con.execute("PRAGMA user_version").fetchone()[0])
        has_table = self._con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='results'").fetchone()
        if version == 0 and has_table:
            version = 1
        if version > SCHEMA_VERSION:
            raise ToolkitError(
                f"results DB {self.path} was written by a newer toolkit (schema {version}, this one reads up to "
                f"{SCHEMA_VERSION}): upgrade mobilenet-toolkit or pass another --db"
            )
        for target in range(1 if not has_table else version + 1, SCHEMA_VERSION + 1):
            for sql in _MIGRATIONS[target]:
                self._con.execute(sql)
        self._con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _corrupt(self, why: object) -> ToolkitError:
        return ToolkitError(
            f"results DB {self.path} is damaged or not a results database ({why}); move it aside "
            f"(nothing was changed) or pass another --db"
        )

    def _write(self, fn: Any) -> Any:
        self._con.execute("BEGIN IMMEDIATE")  # take the write lock now; the busy timeout queues a 2nd writer
        try:
            out = fn()
            self._con.execute("COMMIT")
            return out
        except BaseException:
            if self._con.in_transaction:  # Ctrl-C may land after COMMIT: a failed ROLLBACK would mask it
                self._con.execute("ROLLBACK")
            raise

    def insert(
        self, record: Mapping[str, Any], *, key: str | None = None, sweep_id: str | None = None, once: bool = False
    ) -> int | None:
        """Validate ``record`` against the schema and store it; returns the row id (None: ``once`` and stored).

        Only measurements are stored: a published figure or a prediction (schema ``source``) is refused, so
        nothing downstream can take one for a measurement of yours. A record from a cloud job (its ``job``
        block) marks that job ``stored`` in the same transaction, so a re-run neither stores it twice nor
        forgets it. A measurement is stored with this device's between-run spread as measured from the rows
        stored before it (:meth:`between_runs`), unless it already carries one.
        """
        try:
            record = self._with_between_runs(record, sweep_id)
        except sqlite3.DatabaseError as e:
            raise self._corrupt(e) from None
        validate_record(dict(record))
        if (record.get("source") or "measured") != "measured":
            raise UsageError(f"a {record['source']} record is not a measurement; the results DB stores measured "
                             "records only")  # fmt: skip
        row = _flatten(record, key or _record_key(record), sweep_id)
        sql = f"INSERT INTO results ({', '.join(_NAMES)}) VALUES ({', '.join('?' * len(_NAMES))})"
        job = record.get("job")

        def write() -> int | None:
            stored = once and self._con.execute("SELECT 1 FROM results WHERE run_key = ? LIMIT 1", (row[0],)).fetchone()
            row_id = None if stored else int(self._con.execute(sql, row).lastrowid)
            if row_id is not None:
                self._forget_pooled(record, sweep_id)
            if job:
                self._set_job_state(job["service"], job["id"], "stored", None)
            return row_id

        try:
            return self._write(write)
        except sqlite3.DatabaseError as e:
            raise self._corrupt(e) from None

    def _with_between_runs(self, record: Mapping[str, Any], run: str | None) -> Mapping[str, Any]:
        """``record`` plus its ``between_runs`` block when the device's history states one (a copy; the caller's
        record is left as it was). A record the schema will refuse is passed on untouched, to be refused."""
        if "between_runs" in record or not isinstance(record.get("device"), Mapping):
            return record
        if (record.get("source") or "measured") != "measured":
            return record
        block = self.between_runs(record, run)
        return {**record, "between_runs": block} if block else record

    def between_runs(self, record: Mapping[str, Any], run: str | None = None) -> dict[str, Any] | None:
        """The run-to-run spread of log medians on ``record``'s device, from the unflagged rows of earlier runs.

        ``run`` is the record's sweep id (else its timestamp names its run): rows of its own run are left out,
        so the estimate never holds this run's drift. One indexed query over the device's latest
        :data:`BETWEEN_RUNS_WINDOW` rows plus arithmetic (:func:`toolkit.between_runs.estimate`); None while
        the history is too thin to state it. Every record of one sweep sees the same earlier runs, so the
        answer is kept until another connection commits or this one stores a row of another run: a sweep
        pays for one estimate (3 ms over 2000 rows), not one per record.
        """
        d = record["device"]
        key = (d.get("kind"), d.get("name"), d.get("cpu"), run or record.get("timestamp"))
        version = self._con.execute("PRAGMA data_version").fetchone()[0]  # moves when another connection commits
        if version != self._pooled_version:
            self._pooled.clear()
            self._pooled_version = version
        if key not in self._pooled:
            self._pooled[key] = History.of(self._con.execute(_DEVICE_ROWS_SQL, (*key, BETWEEN_RUNS_WINDOW)))
        history = self._pooled[key]
        return None if history is None else history.block(_group(record))

    def _forget_pooled(self, record: Mapping[str, Any], run: str | None) -> None:
        """A row this connection stored changes the estimate for the device's *other* runs only."""
        d = record["device"]
        here = (d.get("kind"), d.get("name"), d.get("cpu"))
        mine = run or record.get("timestamp")
        self._pooled = {k: v for k, v in self._pooled.items() if k[:3] != here or k[3] == mine}

    def insert_once(self, record: Mapping[str, Any], *, key: str, sweep_id: str | None = None) -> int | None:
        """Store ``record`` unless a measurement with this :func:`run_key` is stored already; None if it was.

        The check and the insert are one write transaction (``BEGIN IMMEDIATE``), so two sweeps of the same
        request writing at once store it once: the second writer waits for the first and then sees its row.
        """
        return self.insert(record, key=key, sweep_id=sweep_id, once=True)

    def has(self, key: str) -> bool:
        """True when a measurement with this :func:`run_key` is stored (sweeps skip it on resume)."""
        return self._con.execute("SELECT 1 FROM results WHERE run_key = ? LIMIT 1", (key,)).fetchone() is not None

    def count(self) -> int:
        return int(self._con.execute("SELECT COUNT(*) FROM results").fetchone()[0])

    def records(self) -> list[dict[str, Any]]:
        """Every stored record in insertion order; a row whose JSON is unreadable is an error, not a skip."""
        out = []
        try:
            rows = self._con.execute("SELECT id, record_json FROM results ORDER BY id").fetchall()
        except sqlite3.DatabaseError as e:
            raise self._corrupt(e) from None
        for row_id, text in rows:
            try:
                out.append(json.loads(text))
            except (TypeError, json.JSONDecodeError) as e:
                raise self._corrupt(f"row {row_id}: {e}") from None
        return out

    # ---- cloud jobs and uploads (schema 2) ----------------------------------------------------
    def save_job(self, service: str, job_id: str, *, device: str, artifact_sha256: str, kind: str, request: str,
                 url: str | None = None) -> None:  # fmt: skip
        """Remember a job the moment the service accepted it (state ``submitted``)."""
        sql = ("INSERT OR REPLACE INTO jobs (job_id, service, device, artifact_sha256, kind, request, state, url, "
               "submitted_at) VALUES (?, ?, ?, ?, ?, ?, 'submitted', ?, ?)")  # fmt: skip
        self._write(lambda: self._con.execute(sql, (job_id, service, device, artifact_sha256, kind, request, url,
                                                    _now())))  # fmt: skip

    def set_job_state(self, service: str, job_id: str, state: str, message: str | None = None) -> None:
        """Move a job on (``running``, ``succeeded``, ``failed`` with the service's reason, ``stored``)."""
        self._write(lambda: self._set_job_state(service, job_id, state, message))

    def _set_job_state(self, service: str, job_id: str, state: str, message: str | None) -> None:
        if state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}; one of {', '.join(JOB_STATES)}")
        finished = None if state in ("submitted", "running") else _now()
        self._con.execute(
            "UPDATE jobs SET state = ?, message = COALESCE(?, message), finished_at = COALESCE(?, finished_at) "
            "WHERE service = ? AND job_id = ?",
            (state, message, finished, service, job_id),
        )

    def open_job(self, service: str, device: str, artifact_sha256: str, kind: str, request: str) -> dict | None:
        """The newest job for this exact request that a re-run should follow instead of submitting again."""
        marks = ", ".join("?" * len(OPEN_JOB_STATES))
        rows = self._jobs(f"service = ? AND device = ? AND artifact_sha256 = ? AND kind = ? AND request = ? "
                          f"AND state IN ({marks})", (service, device, artifact_sha256, kind, request,
                                                      *OPEN_JOB_STATES))  # fmt: skip
        return rows[-1] if rows else None

    def jobs(self, service: str | None = None, states: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Jobs in submission order, optionally of one service and in some states."""
        where, args = ["1"], []
        if service is not None:
            where.append("service = ?")
            args.append(service)
        if states is not None:
            states = tuple(states)
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args += states
        return self._jobs(" AND ".join(where), tuple(args))

    def _jobs(self, where: str, args: tuple) -> list[dict[str, Any]]:
        cur = self._con.execute(f"SELECT * FROM jobs WHERE {where} ORDER BY submitted_at, rowid", args)
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def cached_model(self, service: str, sha256: str) -> str | None:
        """The service's id for an artifact already uploaded with these bytes."""
        row = self._con.execute(
            "SELECT model_id FROM service_models WHERE service = ? AND sha256 = ?", (service, sha256)
        ).fetchone()
        return row[0] if row else None

    def cache_model(self, service: str, sha256: str, model_id: str) -> None:
        sql = "INSERT OR REPLACE INTO service_models (service, sha256, model_id, uploaded_at) VALUES (?, ?, ?, ?)"
        self._write(lambda: self._con.execute(sql, (service, sha256, model_id, _now())))

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ResultsDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_json_export(records: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """``{"kind": ..., "records": [...]}`` written atomically; ``toolkit compare`` reads it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps({"kind": EXPORT_KIND, "version": 1, "records": list(records)}, indent=1))
        os.replace(tmp, path)
    finally:  # interrupted: the previous file stays, no partial one beside it
        tmp.unlink(missing_ok=True)
    return path


def load_records(source: str | Path) -> list[dict[str, Any]]:
    """Records from a results DB, a JSON export, a list of records or one record (as the apps write)."""
    source = Path(source)
    if not source.exists():
        raise UsageError(f"no results at {source}")
    with open(source, "rb") as f:
        head = f.read(16)
    if head.startswith(b"SQLite format 3"):
        with ResultsDB(source) as db:
            return db.records()
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{source} is neither a results DB nor a JSON export: {e}") from None
    if isinstance(data, dict) and "records" in data:
        data = data["records"]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UsageError(f"{source}: expected a list of result records")
    return data
