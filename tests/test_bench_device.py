"""The device benchmark runs on a CPU in quick mode, says that no GPU was measured, and writes its figures."""
from __future__ import annotations

import json
import re

import pytest

from benchmarks import bench_device


def test_quick_cpu_run_reports_every_stage(tmp_path, capsys):
    out = tmp_path / "figures.json"
    result = bench_device.main(["--device", "cpu", "--quick", "--resolutions", "16", "24", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "No GPU was measured" in printed
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    info, runs = result["info"], result["runs"]
    assert info["gpu_measured"] is False and info["device"] == "cpu"
    assert [(r["model"], r["precision"], r["resolution"]) for r in runs] == [("tiny", "fp32", 16), ("tiny", "fp32", 24)]
    for r in runs:
        s = r["seconds"]
        assert set(s) == set(bench_device.STAGES)
        assert all(v >= 0 for v in s.values())
        assert s["end_to_end"] == pytest.approx(sum(v for k, v in s.items() if k != "end_to_end"))
        assert 0 < r["query_seconds"] <= s["field"]
        assert 0 < r["evaluations"] <= r["resolution"] ** 3 and r["vertices"] > 0
        assert r["peak_gpu_mib"] is None and r["peak_rss_mib"] > 0
        assert re.search(rf"^tiny\s+fp32\s+{r['resolution']}\s", printed, re.M)   # a table row per run
