"""The built-in published phone latencies: made from the text by the script, schema-valid, read-only, and
usable by select / predict-latency / devices with no phone, no sweep and no database."""

from __future__ import annotations

import copy
import importlib.util
import json
import sqlite3
from pathlib import Path

import pytest

from toolkit.cli import main
from toolkit.errors import ToolkitError, UsageError
from toolkit.published import check_request, devices, is_published_device, published_records
from toolkit.records import config_key
from toolkit.results import ResultsDB
from toolkit.schemas import result_schema_problem

from .test_select import BASE, rec

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("make_published_data", ROOT / "scripts" / "make_published_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_json_is_what_the_script_makes_from_the_text() -> None:
    script = _script()
    shipped = (ROOT / "toolkit" / "assets" / "published_latency.json").read_text(encoding="utf-8")
    assert script.render(script.build()) == shipped, "rerun: python scripts/make_published_data.py"
    # and the script really reads the text: a changed figure changes the record
    text = script.SOURCE.read_text(encoding="utf-8").replace(
        "| 1.0_224 | 71.0/89.9 | 160.1 |", "| 1.0_224 | 71.0/89.9 | 161.7 |"
    )
    changed = [r for r in script.build(text)["records"] if r["latency_ms"] == [161.7]]
    assert [(r["device"]["name"], r["artifact"]["variant"]) for r in changed] == [("pixel2", "mobilenet_v1-a1.00-r224")]


def test_every_published_record_fits_the_schema_and_cites_its_source() -> None:
    recs = published_records()
    assert len(recs) == 7 * 16 + 12  # seven 16-variant columns (H2, H3) and twelve single figures (B1, B2)
    for r in recs:
        assert result_schema_problem(r) is None, r
        assert r["source"] == "published" and r["stats"]["n"] == 1 and r["latency_ms"] == [r["stats"]["median_ms"]]
        c = r["citation"]
        assert len(c["revision"]) == 40 and c["revision"] in c["url"] and c["url"].startswith("https://github.com/")
    by = {(config_key(r), r["artifact"]["variant"]): r["latency_ms"][0] for r in recs}
    assert by[(("pixel3", "tflite", "int8", "nnapi"), "mobilenet_v1-a0.75-r224")] == 4.8  # H3 as printed
    assert by[(("pixel2", "tflite", "fp32", "cpu"), "mobilenet_v1-a0.50-r224")] == 47.6  # H2
    assert by[(("pixel4", "tflite", "fp32", "gpu"), "mobilenet_v1-a1.00-r224")] == 9.0  # B2
    assert published_records("pixel2")[0] is not published_records("pixel2")[0]  # callers get copies


def test_schema_requires_a_citation_for_published_and_a_measurement_protocol_otherwise() -> None:
    pub = published_records("pixel3")[0]
    assert "citation" in (result_schema_problem({k: v for k, v in pub.items() if k != "citation"}) or "")
    two = copy.deepcopy(pub)
    two["latency_ms"], two["stats"]["n"] = [1.0, 2.0], 2
    assert result_schema_problem(two) is not None  # a published record holds its one figure
    measured = rec("mobilenet_v1-a0.50-r160", 1.0)
    assert result_schema_problem(measured) is None
    for drop in ("timestamp",):
        assert result_schema_problem({k: v for k, v in measured.items() if k != drop}) is not None
    no_hash = copy.deepcopy(measured)
    del no_hash["artifact"]["sha256"]
    assert "sha256" in result_schema_problem(no_hash)


def test_published_records_are_never_stored(tmp_path) -> None:
    with ResultsDB(tmp_path / "r.db") as db:
        with pytest.raises(UsageError, match="published record is not a measurement"):
            db.insert(published_records("pixel3")[0])
        assert db.count() == 0
        db.insert(BASE[0])
        (source,) = db._con.execute("SELECT source FROM results").fetchone()
    assert source == "measured"


def test_a_first_release_db_gains_the_source_column(tmp_path) -> None:
    from toolkit.results import _MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "v1.db"
    con = sqlite3.connect(path)
    for sql in _MIGRATIONS[1]:
        con.execute(sql)
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    with ResultsDB(path) as db:
        db.insert(BASE[0])
        assert db.records() == [BASE[0]]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT source FROM results").fetchall() == [("measured",)]
    con.close()


def test_devices_and_bad_requests_name_what_exists() -> None:
    devs = devices()
    assert set(devs) == {"pixel2", "pixel3", "pixel4", "pixelxl", "iphone8", "iphonexs"}
    assert len(devs["pixel3"]["configs"]) == 5 and is_published_device("pixel3") and not is_published_device("vm")
    check_request("pixel3", "tflite", "int8", None)
    with pytest.raises(UsageError) as e:
        check_request("pixel3", "tflite", "fp16", None)
    assert str(e.value) == ("pixel3 has no published figures for tflite fp16; it has: tflite fp32 (cpu, gpu, nnapi), "
                            "tflite int8 (cpu, nnapi)")  # fmt: skip
    with pytest.raises(UsageError, match="no published figures for executorch; it has: tflite fp32"):
        check_request("pixel2", "executorch", None, None)


@pytest.fixture
def no_db(tmp_path, monkeypatch) -> Path:
    """A fresh directory with no results database anywhere the toolkit would look."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOOLKIT_RESULTS", raising=False)
    return tmp_path


def test_cli_select_on_a_published_device_needs_no_phone_and_no_sweep(no_db, capsys) -> None:
    assert main(["select", "--budget-ms", "5", "--device", "pixel3", "--runtime", "tflite", "--precision", "int8"]) == 0
    out = capsys.readouterr().out
    assert (
        "ship mobilenet_v1-a0.75-r224 on tflite int8 (pixel3, nnapi): 68.4% top-1, median ≤ 4.8 ms (published)" in out
    )
    assert "4.8 published" in out and "tflite/nnapi" in out
    assert not (no_db / "results").exists()  # nothing was created or stored
    assert main(["select", "--budget-ms", "5", "--device", "pixel3", "--precision", "fp16"]) == 2
    assert "it has: tflite fp32 (cpu, gpu, nnapi), tflite int8 (cpu, nnapi)" in capsys.readouterr().err


def test_cli_predict_latency_and_devices_on_published_data(no_db, capsys) -> None:
    args = ["predict-latency", "--alpha", "0.6", "--resolution", "192", "--device", "pixel3"]
    assert main([*args, "--precision", "fp32", "--delegate", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "mobilenet_v1-a0.60-r192 on pixel3 (tflite fp32 cpu): predicted median" in out and "(fitted)" in out
    assert main(args) == 0  # five configurations, one prediction each
    lines = [line for line in capsys.readouterr().out.splitlines() if "on pixel3 (" in line]
    assert len(lines) == 5 and any("(tflite int8 nnapi): predicted median" in line for line in lines)
    assert main(["predict-latency", "-a", "0.5", "-r", "160", "--device", "pixel4", "--precision", "int8",
                 "--delegate", "cpu"]) == 0  # fmt: skip
    assert "(transferred from other devices)" in capsys.readouterr().out  # one figure: the transfer fills in
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "pixel3" in out and "published (Pixel 3; H3)" in out and "no measured devices" in out


def test_published_records_join_your_candidates_only_when_asked(tmp_path, capsys) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps(BASE))
    args = ["select", "--budget-ms", "100", "--records", str(path), "--measured-only"]
    assert main(args) == 0
    assert "pixel" not in capsys.readouterr().out
    assert main([*args, "--include-published"]) == 0
    assert "published" in capsys.readouterr().out
    assert main(["devices", "--records", str(path)]) == 0
    out = capsys.readouterr().out
    assert "vm" in out and "measured" in out and "onnxruntime fp32 default (4)" in out


def test_an_empty_db_is_still_an_error_for_your_own_devices(no_db, capsys) -> None:
    assert main(["select", "--budget-ms", "5"]) == 1
    assert "toolkit sweep" in capsys.readouterr().err
    with pytest.raises(ToolkitError):
        from toolkit.select import gather_records

        gather_records("vm")
