"""Build toolkit/assets/published_latency.json from toolkit/assets/published/hosted_models.md.

    python scripts/make_published_data.py           # rewrite the JSON
    python scripts/make_published_data.py --check   # exit 1 when the JSON differs from what the text gives

The Markdown file holds the published tables as printed (with their sources); this script turns each
figure into a result-schema record marked ``source: "published"`` with its citation. Nobody types a
figure into code or JSON: change the text, rerun, commit both (a test compares them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "toolkit" / "assets" / "published" / "hosted_models.md"
OUTPUT = ROOT / "toolkit" / "assets" / "published_latency.json"
KIND = "mobilenet-toolkit-published-latency"


def _tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every Markdown table under a ``## `` heading, as rows keyed by the header cells (heading → last table)."""
    out: dict[str, list[dict[str, str]]] = {}
    heading, header, rows = "", None, []
    for line in [*text.splitlines(), ""]:
        if line.startswith("## "):
            heading = line[3:].strip()
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(header, cells, strict=True)))
            continue
        if header is not None:
            out[heading] = rows
            header, rows = None, []
    return out


def _variant(label: str) -> str:
    """``0.50_160`` / ``1.0_224`` → the toolkit's canonical name ``mobilenet_v1-a0.50-r160``."""
    alpha, res = label.split("_")
    return f"mobilenet_v1-a{float(alpha):.2f}-r{int(res)}"


def _file_alpha(label: str) -> str:
    """α as the TensorFlow file names write it: 1.0, 0.75, 0.5, 0.25."""
    alpha = f"{float(label.split('_')[0]):g}"
    return "1.0" if alpha == "1" else alpha


def _ms(text: str) -> float:
    return float(text.replace("ms", "").strip())


def _record(figure: float, *, device: dict, precision: str, delegate: str, threads: str, variant: str,
            model_url: str, source: dict, column: str, table: str, statistic: str, protocol: dict,
            notes: list[str]) -> dict:  # fmt: skip
    stats = dict.fromkeys(("median_ms", "p90_ms", "mean_ms", "min_ms", "max_ms", "trimmed_mean_ms",
                           "ci95_low_ms", "ci95_high_ms"), figure)  # fmt: skip
    rec = {
        "schema_version": 1,
        "source": "published",
        "device": device,
        "runtime": {"name": "tflite", "version": "not stated", "delegate": delegate},
        "artifact": {"file": model_url.rsplit("/", 1)[1], "variant": variant, "target": "tflite",
                     "precision": precision, "weights": "tf-slim checkpoint " + model_url.split("/")[-2]},
        "config": {"threads": int(threads) if threads != "-" else 0, **protocol},
        "latency_ms": [figure],
        "stats": {"n": 1, "std_ms": 0.0, **stats},
        "citation": {
            "key": source["Key"], "document": source["Document"].replace("`", ""), "revision": source["Revision"],
            "date": None, "url": source["URL"], "table": table, "column": column, "device": device["model"],
            "runtime": "TensorFlow Lite", "threads": int(threads) if threads != "-" else None,
            "delegate": delegate, "statistic": statistic, "model_url": model_url,
        },
    }  # fmt: skip
    if notes:
        rec["notes"] = notes
    return rec


# What each source says about its protocol and statistic (the "What each says" notes in the text).
_PROTOCOL = {"H2": {}, "H3": {}, "B1": {"warmup": 1, "iterations": 50}, "B2": {"warmup": 1, "iterations": 50}}
_STATISTIC = {"H2": "not stated", "H3": "not stated", "B1": "mean", "B2": "not stated"}


def build(text: str | None = None) -> dict:
    """The JSON document (records in a fixed order) that the Markdown source gives."""
    tables = _tables(SOURCE.read_text(encoding="utf-8") if text is None else text)
    sources = {row["Key"]: row for row in tables["Sources"]}
    records = []
    grid_title = next(t for t in tables if t.startswith("The 16-variant table"))
    for col in tables["Columns"]:
        device = {"kind": col["Kind"], "name": col["Device"], "model": col["Model"], "os": col["OS"]}
        for row in tables[grid_title]:
            label = row["Variant"]
            url = col["Model files"].format(alpha=_file_alpha(label), res=label.split("_")[1])
            records.append(_record(_ms(row[col["Column"]]), device=device, precision=col["Precision"],
                                   delegate=col["Delegate"], threads=col["Threads"], variant=_variant(label),
                                   model_url=url, source=sources[col["Key"]], column=col["Column"],
                                   table=grid_title, statistic=_STATISTIC[col["Key"]],
                                   protocol=_PROTOCOL[col["Key"]], notes=[]))  # fmt: skip
    single_title = next(t for t in tables if t.startswith("Single figures"))
    for row in tables[single_title]:
        device = {"kind": row["Kind"], "name": row["Device"], "model": row["Model"], "os": row["OS"]}
        notes = [] if row["Std ms"] == "-" else [f"published as {row['Latency ms']} ms (std dev {row['Std ms']} ms)"]
        records.append(_record(_ms(row["Latency ms"]), device=device, precision=row["Precision"],
                               delegate=row["Delegate"], threads=row["Threads"], variant=_variant(row["Variant"]),
                               model_url=row["Model file"], source=sources[row["Key"]],
                               column=row["Column"], table=single_title, statistic=_STATISTIC[row["Key"]],
                               protocol=_PROTOCOL[row["Key"]], notes=notes))  # fmt: skip
    return {"kind": KIND, "version": 1, "generated_by": "scripts/make_published_data.py",
            "source": "toolkit/assets/published/hosted_models.md", "records": records}  # fmt: skip


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    text = render(build())
    if args.check:
        same = OUTPUT.exists() and OUTPUT.read_text(encoding="utf-8") == text
        print(
            f"{OUTPUT.relative_to(ROOT)} is {'up to date' if same else 'STALE: rerun scripts/make_published_data.py'}"
        )
        return 0 if same else 1
    tmp = OUTPUT.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(OUTPUT)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(build()['records'])} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
