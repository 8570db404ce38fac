"""`toolkit --version`, `variants`, `info`, and that the CLI starts without importing torch."""

from __future__ import annotations

import subprocess
import sys

from toolkit import __version__
from toolkit.cli import main


def test_help_does_not_import_torch():
    code = "import sys; from toolkit.cli import main; main(['--help']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("False")


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_variants_lists_sixteen_with_published_figures(capsys):
    assert main(["variants"]) == 0
    out = capsys.readouterr().out
    assert out.count("mobilenet_v1-a") == 16
    assert "568.74" in out and "70.9" in out and "13.57" in out


def test_info_prints_table1_table2_and_totals(capsys):
    assert main(["info", "--alpha", "0.5", "--resolution", "160"]) == 0
    out = capsys.readouterr().out
    for name in ("conv1", "conv_dw_13", "conv_pw_13", "conv_preds", "Conv DW 3x3", "Fully Connected"):
        assert name in out
    assert "76.52 M mult-adds" in out and "1,342,536" in out and "59.1%" in out


def test_info_custom_variant(capsys):
    assert main(["info", "--alpha", "0.6", "--resolution", "96"]) == 0
    assert "no published ImageNet accuracy" in capsys.readouterr().out


def test_bad_input_exit_code_2_no_traceback():
    for args in (["info", "--alpha", "1.5"], ["info", "--resolution", "100"], ["info", "--alpha", "abc"]):
        proc = subprocess.run([sys.executable, "-m", "toolkit", *args], capture_output=True, text=True)
        assert proc.returncode == 2, args
        assert "Traceback" not in proc.stderr and proc.stderr.strip(), args
