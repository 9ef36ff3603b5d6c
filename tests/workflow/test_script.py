"""load_script: meta extraction and every refusal, with the line it points at; nothing is executed."""

from __future__ import annotations

import pytest

from boocode.errors import InputError
from boocode.workflow.script import MAX_SCRIPT_CHARS, PhaseMeta, ScriptError, load_script

META = "export const meta = {name: 'n', description: 'd'}\n"


def test_valid_script_meta_and_body() -> None:
    source = """export const meta = {
  name: 'find-flaky',
  description: `Find flaky tests`,
  whenToUse: 'when tests flake',
  phases: [{title: 'Scan', detail: 'look', model: 'haiku'}, {title: 'Fix', model: 3}, {detail: 'x'}],
  extra: [1, -2, true, null, {nested: "ok"}],
}
const found = await agent('look')
return found
"""
    script = load_script(source, "w.js")
    assert script.meta.name == "find-flaky"
    assert script.meta.description == "Find flaky tests"
    assert script.meta.when_to_use == "when tests flake"
    assert script.meta.phases == (PhaseMeta("Scan", "look", "haiku"), PhaseMeta("Fix", None, None))
    assert script.body == "      " + source[6:]
    assert script.body.splitlines()[1:] == source.splitlines()[1:]
    assert len(script.sha256) == 64 and script.filename == "w.js"


def test_minified_script() -> None:
    script = load_script(
        'export const meta={name:"scan",description:"Scan"};const r=await agent("x");return r', "m.js"
    )
    assert script.meta.name == "scan"
    assert script.body.startswith("       const meta=")
    assert script.body.endswith("return r")


def test_script_error_is_input_error_with_location() -> None:
    with pytest.raises(InputError) as info:
        load_script(META + "\nlet x: number = 1", "t.js")
    assert isinstance(info.value, ScriptError)
    assert str(info.value).startswith("t.js:3: syntax error")
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("source", "line", "fragment"),
    [
        (META + "const x = 1\nfunction f(a: string) {}", 3, "syntax error"),
        (META + "interface X { a: number }", 2, "syntax error"),
        (META + "\n\nconst y = (", 4, "syntax error"),
        ("const meta = {name: 'n', description: 'd'}", 1, "must start with `export const meta"),
        ("// comment\nlet a = 1\nexport const meta = {name: 'n', description: 'd'}", 2, "must start"),
        ("export let meta = {name: 'n', description: 'd'}", 1, "must start"),
        ("export const meta = makeMeta()", 1, "object literal"),
        ("export const meta = {name: 'n', description: 'd', x: y}", 1, "pure literal"),
        ("export const meta = {name: 'n', description: 'd', x: f()}", 1, "pure literal"),
        ("export const meta = {name: 'n', description: 'd', ...o}", 1, "spreads"),
        ("export const meta = {name: 'n', description: 'd', x: [1, , 2]}", 1, "holes"),
        ("export const meta = {name: 'n', description: 'd', x: [...a]}", 1, "spreads"),
        ("export const meta = {name: 'n', description: 'd', [k]: 1}", 1, "computed"),
        ("export const meta = {name: 'n', description: 'd', get x() { return 1 }}", 1, "getters"),
        ("export const meta = {name: 'n', description: 'd', f() {}}", 1, "methods"),
        ("export const meta = {name: 'n', description: `d${1}`}", 1, "template"),
        ("export const meta = {name: 'n', description: 'd', x: -'1'}", 1, "unary minus"),
        ("export const meta = {name: 'n', description: 'd', x: /re/}", 1, "JSON-like"),
        ("export const meta = {name: 'n', description: 'd',\n  __proto__: {}}", 2, "'__proto__'"),
        ("export const meta = {name: 'n', description: 'd', 'constructor': 1}", 1, "'constructor'"),
        ("export const meta = {name: 'n', description: 'd', x: {prototype: 1}}", 1, "'prototype'"),
        ("export const meta = {description: 'd'}", 1, "meta.name"),
        ("export const meta = {name: '  ', description: 'd'}", 1, "meta.name"),
        ("export const meta = {name: 'n', description: 3}", 1, "meta.description"),
        ("export const meta = {name: 'n'}", 1, "meta.description"),
        (META + "import fs from 'fs'", 2, "static `import`"),
        (META + "\nconst m = await import('fs')", 3, "dynamic `import()`"),
        (META + "const fs = require('fs')", 2, "`require()`"),
        (META + "function f() {\n  return require('x')\n}", 3, "`require()`"),
        (META + "export const x = 1", 2, "only `export const meta`"),
        (META + "export default 1", 2, "only `export const meta`"),
        (META + "console.log(import.meta.url)", 2, "import.meta"),
        (META + "x = 1 <!--y + `\n}), evil(), (async function () {\n`", 1, "reads differently"),
        # calls that break resume are refused before the run starts, wherever they are
        (META + "const t = Date.now()", 2, "Date.now() is not available in workflow scripts (breaks resume)"),
        (META + "\nfunction f() { return Date['now']() }", 3, "Date.now() is not available"),
        (META + "const r = Math.random() * 3", 2, "Math.random() is not available"),
        (META + "const d = Date()", 2, "Date() is not available"),
        (META + "const d = new Date", 2, "new Date() is not available"),
        (META + "const d = new Date()", 2, "new Date() is not available"),
    ],
)
def test_refusals(source: str, line: int, fragment: str) -> None:
    with pytest.raises(ScriptError) as info:
        load_script(source, "bad.js")
    assert fragment in info.value.message
    assert info.value.line == line
    assert info.value.filename == "bad.js"


def test_dates_from_values_and_lookalikes_load() -> None:
    body = "const a = new Date(0); const b = Date.UTC(2024, 0, 1); const c = obj.Date.now(); x.random()"
    assert load_script(META + body, "ok.js").meta.name == "n"


def test_size_limit() -> None:
    filler = "// " + "x" * 100 + "\n"
    source = META + filler * (MAX_SCRIPT_CHARS // len(filler) + 1)
    with pytest.raises(ScriptError, match="the limit is 524,288"):
        load_script(source, "big.js")
    load_script(source[:MAX_SCRIPT_CHARS], "ok.js")


def test_loading_executes_nothing() -> None:
    script = load_script(META + "while (true) {}\nthrow new Error('never')", "loop.js")
    assert script.meta.name == "n"


def test_the_shared_parser_serves_many_scripts() -> None:
    loaded = [load_script(META + f"return {i}", f"s{i}.js") for i in range(200)]
    assert [s.filename for s in loaded[:2]] == ["s0.js", "s1.js"]
    assert len({s.sha256 for s in loaded}) == 200
