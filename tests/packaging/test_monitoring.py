"""The Grafana dashboard and Prometheus alert rules in packaging/monitoring/ match what the agent exports.

Each PromQL expression's metric names are compared with a scrape of a real running
agent (so a renamed metric breaks this test, not an on-call night); Debian's promtool
checks the rules' syntax and runs their unit tests (siemrelay-alerts.test.yml).
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import pick_port, require_tool, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "packaging" / "monitoring"
READ = "monitoring-read-token-123456"

#: series Prometheus makes itself for every scrape target, not the agent
SCRAPE_SERIES = {"up"}
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
             "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels, keywords and durations left out)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    names = set()
    for found in re.finditer(r"(?<![\w:$.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, call = found.group(1), found.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def test_metric_names_reads_promql_like_prometheus() -> None:
    assert metric_names('sum by (sink, le) (rate(a_bucket{instance=~"$x", le!="1"}[$__rate_interval]))') == {"a_bucket"}
    assert metric_names("time() - b > 3600 and b > 0") == {"b"}
    assert metric_names('histogram_quantile(0.95, c) / on(job) group_left d offset 5m') == {"c", "d"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """Every sample name a running agent with a source, a sink and a route exports."""
    from tests.conftest import AgentProcess

    tmp = tmp_path_factory.mktemp("monitoring")
    admin_port, hook_port = pick_port(), pick_port()
    config = tmp / "siemrelay.yaml"
    config.write_text(textwrap.dedent(f"""\
        agent:
          state_dir: {tmp}/state
          admin: {{enabled: true, address: "127.0.0.1:{admin_port}", read_token: "{READ}"}}
        sources:
          hooks: {{type: http, address: "127.0.0.1:{hook_port}", paths: {{/events: {{decoder: json}}}}}}
        sinks:
          archive: {{type: file, path: {tmp}/out.jsonl}}
        routes:
          - {{name: default, to: [archive]}}
        """))
    agent = AgentProcess(config, tmp).start()
    try:
        wait_for_port(admin_port, timeout=30)
        r = requests.get(f"http://127.0.0.1:{admin_port}/metrics", headers={"Authorization": f"Bearer {READ}"}, timeout=10)
        assert r.status_code == 200
        names = {s.name for fam in text_string_to_metric_families(r.text) for s in fam.samples}
        assert agent.stop() == 0
    finally:
        agent.close()
    yield names


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((MONITORING / "siemrelay-alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_exprs(dash: dict[str, Any]) -> list[tuple[str, str]]:
    out = [(p["title"], t["expr"]) for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            found = re.fullmatch(r"label_values\((\w+),\s*\w+\)", query)
            assert found, query
            out.append((f"variable {var['name']}", found.group(1)))
    return out


@pytest.mark.e2e
def test_alert_rules_name_only_exported_metrics(exported: set[str]) -> None:
    rules = _rules()
    assert len(rules) >= 8
    for rule in rules:
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exported | SCRAPE_SERIES, (rule["alert"], names - exported)


@pytest.mark.e2e
def test_the_dashboard_is_valid_and_names_only_exported_metrics(exported: set[str]) -> None:
    dash = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dash["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
    exprs = _dashboard_exprs(dash)
    assert len(exprs) >= 15
    for title, expr in exprs:
        names = metric_names(expr)
        assert names, title
        assert names <= exported, (title, names - exported)
    # the dashboard shows what the issue asks an operator to see
    used = set().union(*(metric_names(e) for _, e in exprs))
    for name in ("siemrelay_source_bytes_in_total", "siemrelay_sink_bytes_out_total",
                 "siemrelay_source_last_event_timestamp_seconds", "siemrelay_sink_queue_depth",
                 "siemrelay_route_matched_total", "siemrelay_config_last_reload_successful"):
        assert name in used, name


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    promtool = require_tool("promtool", "prometheus")
    check = subprocess.run([promtool, "check", "rules", "siemrelay-alerts.yml"], cwd=MONITORING,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in check.stdout
    tested = subprocess.run([promtool, "test", "rules", "siemrelay-alerts.test.yml"], cwd=MONITORING,
                            capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr
