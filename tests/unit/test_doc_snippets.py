"""Every ```yaml snippet in README.md and docs/*.md is checked by the real validator.

Users copy these snippets, so each one goes through the same public code paths as
``siemrelay validate``: :func:`agent.config.loader.load_config`, :func:`agent.config.validate.validate_config`
(plugins from :func:`agent.plugins.load_plugins`), named decoders through
:class:`agent.engine.build.DecoderFactory`, then :func:`agent.engine.build.build_sinks` and
:func:`agent.engine.build.build_sources` (which resolve each source's decoders), and route-test
files through
:func:`agent.routing.cases.load_cases`. docs/configuration.md is generated from the schema
and is left out.

What a snippet is, and how it is completed so that its own keys are what gets checked:

- a configuration (top-level keys among agent, sources, sinks, routes, decoders,
  include): sink names its routes send to get stub ``stdout`` sinks when the snippet
  has no ``sinks:``; a snippet without sinks gets one stub sink; a snippet without
  routes gets a ``default`` route to every sink. A whole config is thus validated
  as it is.
- a route-test file (``tests:``): loaded with the sinks the same page's configuration
  snippets define or route to.
- a route fragment (``when:``, ``to:``, ``transforms:``...): wrapped as one route.
- common sink blocks (``retry:``, ``batch:``...): wrapped in a ``stdout`` sink.

``${VAR}`` gets a placeholder value, and a file the snippet names (a certificate, a
creds file) that this machine lacks is not counted as a problem. Markers, an HTML comment on the line right before
the fence: ``<!-- snippet: invalid -->`` for a snippet that shows a mistake (it must be
refused), ``<!-- snippet: other -->`` for YAML that is not siemrelay configuration
(skipped). A failure names the document line of each problem.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config.validate import validate_config
from agent.engine.build import DecoderFactory, build_sinks, build_sources
from agent.config.loader import load_config, load_yaml_text
from agent.errors import ConfigError, Problem
from agent.plugins import PluginSet, load_plugins
from agent.routing.cases import load_cases
from agent.config.schema import ROUTE_SCHEMA, SINK_CORE_SCHEMA, TOP_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "configuration.md")]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)")
_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<kind>[\w-]+)\s*-->\s*$")
_MARKERS = ("invalid", "other")
_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")
_SECTIONS = set(TOP_SCHEMA) | {"include"}
_STUB = "doc_stub"
_UNREADABLE = re.compile(r"^[\w.]+: cannot read (\S+)$")

# README snippets are not edited here; a wrong one is an expected failure until fixed.
# Keyed by (file, a line of the snippet) rather than by line number, which moves.
README_XFAIL: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Snippet:
    file: str  # relative to the repository
    line: int  # 1-based line of the opening fence; the snippet's line k is line + k
    text: str
    marker: str | None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def extract(path: Path, text: str | None = None) -> list[Snippet]:
    """Every fenced ```yaml / ```yml block of a Markdown file, with its marker."""
    rel = path.relative_to(ROOT).as_posix() if path.is_absolute() else path.as_posix()
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: list[Snippet] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m["fence"], len(m["indent"])
        end = i + 1
        while end < len(lines) and not re.match(rf"^[ \t]*{fence[0]}{{{len(fence)},}}[ \t]*$", lines[end]):
            end += 1
        if m["lang"].lower() in ("yaml", "yml"):
            body = [ln[indent:] if ln[:indent].strip() == "" else ln for ln in lines[i + 1:end]]
            prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
            mk = _MARKER.match(prev)
            out.append(Snippet(rel, i + 1, textwrap.dedent("\n".join(body)) + "\n", mk["kind"] if mk else None))
        i = end + 1
    return out


SNIPPETS = [s for doc in DOCS for s in extract(doc)]


@pytest.fixture(scope="module")
def plugins() -> PluginSet:
    return load_plugins(entry_points=False)


def _placeholders(text: str) -> dict[str, str]:
    return {name: ("https://hooks.example.com/placeholder" if "URL" in name else f"placeholder-{name.lower()}")
            for name in _VAR.findall(text)}


def _to_lists(routes: Any) -> list[str]:
    names: list[str] = []
    for r in routes if isinstance(routes, list) else []:
        to = r.get("to") if isinstance(r, dict) else None
        names += [t for t in to if isinstance(t, str)] if isinstance(to, list) else []
    return names


def _complete(data: dict[str, Any]) -> str:
    """YAML for the top-level sections a configuration snippet leaves out."""
    extra: dict[str, Any] = {}
    if "sinks" not in data:
        wanted = list(dict.fromkeys(_to_lists(data.get("routes")))) or [_STUB]
        extra["sinks"] = {name: {"type": "stdout"} for name in wanted}
    if "routes" not in data:
        given = data.get("sinks")
        sinks: dict[str, Any] = given if isinstance(given, dict) else extra.get("sinks", {})
        extra["routes"] = [{"name": "default", "to": list(sinks) or [_STUB]}]
        if not sinks:
            extra.setdefault("sinks", {_STUB: {"type": "stdout"}})
    return yaml.safe_dump(extra, sort_keys=False) if extra else ""


@dataclass
class Prepared:
    kind: str  # "config" or "tests"
    text: str  # the file to load
    offset: int  # lines added before the snippet's first line
    lines: int  # the snippet's own line count


def prepare(s: Snippet) -> Prepared:
    """Decide what the snippet is and complete it into a loadable file."""
    data, _ = load_yaml_text(s.text, s.id)  # a syntax error is reported as is
    n = s.text.count("\n")
    if isinstance(data, list) or isinstance(data, dict) and "tests" in data:
        return Prepared("tests", s.text, 0, n)
    if not isinstance(data, dict) or not data:
        raise AssertionError(f"{s.id}: not a mapping; mark it <!-- snippet: other --> if it is not configuration")
    keys = set(data)
    if keys <= _SECTIONS:
        return Prepared("config", s.text + _complete(data), 0, n)
    if keys <= set(ROUTE_SCHEMA):
        head = f"sinks:\n  {_STUB}: {{type: stdout}}\nroutes:\n  - name: doc-snippet\n"
        if "to" not in keys:
            head += f"    to: [{_STUB}]\n"
        if "name" in keys:
            head = head.replace("  - name: doc-snippet\n", "  -\n")
        return Prepared("config", head + textwrap.indent(s.text, "    "), head.count("\n"), n)
    if keys <= set(SINK_CORE_SCHEMA) - {"type"}:
        head = f"sinks:\n  {_STUB}:\n    type: stdout\n"
        tail = f"routes:\n  - name: default\n    to: [{_STUB}]\n"
        return Prepared("config", head + textwrap.indent(s.text, "    ") + tail, head.count("\n"), n)
    raise AssertionError(f"{s.id}: cannot tell what this snippet configures (top-level keys: {sorted(map(str, keys))}); "
                         "mark it <!-- snippet: other --> if it is not siemrelay configuration")


def _page_sinks(file: str) -> set[str]:
    """Sink names the configuration snippets of one page define or route to."""
    names: set[str] = set()
    for s in SNIPPETS:
        if s.file != file or s.marker is not None:
            continue
        try:
            data, _ = load_yaml_text(s.text, s.id)
        except ConfigError:
            continue
        if isinstance(data, dict) and "tests" not in data:
            if isinstance(data.get("sinks"), dict):
                names |= {str(k) for k in data["sinks"]}
            names |= set(_to_lists(data.get("routes")))
    return names


def check(s: Snippet, plugins: PluginSet, tmp_path: Path) -> list[Problem]:
    """The problems the real validator finds in the snippet (empty: it is valid)."""
    try:
        prep = prepare(s)
    except ConfigError as exc:  # not YAML, or duplicate keys (at the end of the input: the closing fence)
        return [_at_doc_line(p, s, Prepared("config", s.text, 0, s.text.count("\n") + 1)) for p in exc.problems]
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "snippet.yaml"
    path.write_text(prep.text, encoding="utf-8")
    problems: list[Problem] = []
    try:
        if prep.kind == "tests":
            sinks = _page_sinks(s.file)
            if not sinks:  # no configuration on the page: the structure is what is checked
                data, _ = load_yaml_text(s.text, s.id)
                sinks = {v for lst in _find(data, ("to", "not_to", "only_to")) if isinstance(lst, list)
                         for v in lst if isinstance(v, str)} | set(_find_keys(data, "sinks"))
            load_cases([path], sinks, problems)
        else:
            cfg = validate_config(load_config(path, env=_placeholders(s.text)), plugins)
            factory = DecoderFactory(plugins, cfg.decoders, cfg.smap)
            for name in cfg.decoders:
                factory(name, ("decoders", name))
            # as `siemrelay validate` does: construct every component (no threads, no
            # sockets), which resolves each source's decoders; state goes to a scratch dir
            cfg.agent["state_dir"] = str(tmp_path / "state")
            for sink in build_sinks(cfg, str).values():
                sink.close()
            build_sources(cfg, plugins, str)
    except ConfigError as exc:
        problems.extend(exc.problems)
    return [_at_doc_line(p, s, prep) for p in problems if not _missing_file(p, s)]


def _missing_file(p: Problem, s: Snippet) -> bool:
    """"cannot read /etc/siemrelay/tls/server.pem": a file the snippet names that this
    machine does not have, not a mistake in the snippet."""
    m = _UNREADABLE.search(p.message)
    return m is not None and m[1] in s.text


def _find(doc: Any, keys: tuple[str, ...]) -> list[Any]:
    found: list[Any] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += [v] if k in keys else _find(v, keys)
    elif isinstance(doc, list):
        for v in doc:
            found += _find(v, keys)
    return found


def _find_keys(doc: Any, key: str) -> list[str]:
    return [str(k) for v in _find(doc, (key,)) if isinstance(v, dict) for k in v]


def _at_doc_line(p: Problem, s: Snippet, prep: Prepared) -> Problem:
    k = p.line - prep.offset
    where = s.line + k if 1 <= k <= prep.lines else 0
    return Problem(s.file if where else f"{s.file}:{s.line} (completion)", where, p.path, p.message)


def _params() -> list[Any]:
    params = []
    for s in SNIPPETS:
        if s.marker == "other":
            continue
        marks = [pytest.mark.xfail(strict=True, reason=reason)
                 for (file, line), reason in README_XFAIL.items() if s.file == file and line in s.text.splitlines()]
        params.append(pytest.param(s, id=s.id, marks=marks))
    return params


@pytest.mark.parametrize("snippet", _params())
def test_yaml_snippet(snippet: Snippet, plugins: PluginSet, tmp_path: Path) -> None:
    assert snippet.marker in (None, *_MARKERS), f"{snippet.id}: unknown marker {snippet.marker!r} (known: {_MARKERS})"
    assert not plugins.failures, plugins.failures
    problems = check(snippet, plugins, tmp_path)
    if snippet.marker == "invalid":
        assert problems, f"{snippet.id} is marked <!-- snippet: invalid --> but the validator accepts it"
    else:
        assert not problems, f"{snippet.id}: the validator refuses this snippet:\n" + "\n".join(f"  - {p}" for p in problems)


def test_snippets_are_found() -> None:
    """The extractor sees the docs' snippets (a broken pattern would make every test vacuous)."""
    assert len(SNIPPETS) >= 10
    assert {s.file for s in SNIPPETS} >= {"README.md", "docs/routing.md", "docs/sources.md"}
    assert not any(s.file == "docs/configuration.md" for s in SNIPPETS)


def test_markers_are_on_yaml_fences() -> None:
    """A marker must sit right before a ```yaml fence, or it marks nothing."""
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if _MARKER.match(line):
                nxt = next((ln for ln in lines[i + 1:] if ln.strip()), "")
                m = _FENCE.match(nxt)
                assert m and m["lang"].lower() in ("yaml", "yml"), \
                    f"{doc.relative_to(ROOT)}:{i + 1}: a snippet marker not followed by a ```yaml fence"


SAMPLE = """\
# A page

```yaml
sinks:
  siem: {type: file, path: ./siem.jsonl}
```

<!-- snippet: invalid -->
```yaml
sinks:
  x: {type: file, pth: /tmp/x}
```

<!-- snippet: other -->
```yaml
options: {chain_hostnames: no}
```

1. a route, in a list item:

   ```yml
   routes:
     - name: chat
       when: {severity: ">= high"}
       to: [slack]
   ```

~~~yaml
    retry: {max_attempts: 3, timeout_s: "5"}
~~~

```yaml
sinks:
  a: {type: file, path: ./a
```

```sh
echo not yaml
```
"""


def test_the_checker_itself(plugins: PluginSet, tmp_path: Path) -> None:
    """Extraction, markers, completion and document lines, on a page made up here."""
    found = extract(Path("docs/sample.md"), SAMPLE)
    assert [(s.line, s.marker) for s in found] == [(3, None), (9, "invalid"), (15, "other"), (21, None), (28, None),
                                                   (32, None)]
    assert found[3].text.startswith("routes:\n  - name: chat")
    assert check(found[0], plugins, tmp_path / "0") == []
    assert [(p.file, p.line, p.path) for p in check(found[1], plugins, tmp_path / "1")] == \
        [("docs/sample.md", 11, "sinks.x.path"), ("docs/sample.md", 11, "sinks.x.pth")]
    assert check(found[3], plugins, tmp_path / "3") == []  # slack gets a stub sink
    assert [(p.line, p.path) for p in check(found[4], plugins, tmp_path / "4")] == \
        [(29, f"sinks.{_STUB}.retry.timeout_s")]  # wrapped in a stub sink, line still the page's
    assert [(p.file, p.line) for p in check(found[5], plugins, tmp_path / "5")] == [("docs/sample.md", 35)]
