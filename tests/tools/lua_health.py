"""Runs Argo CD health scripts for tests/argocd_health.rs in Lua 5.1, the
Lua version of Argo CD's interpreter (gopher-lua), as lupa bundles it.

Reads {"scripts": {NAME: LUA, ...}, "objects": [OBJECT, ...]} on stdin and
prints {NAME: [{"status": ..., "message": ...}, ...]} on stdout: each
script applied to each object, which it sees as the global `obj`, as in
Argo CD.
"""

import json
import sys

from lupa import lua51


def to_lua(lua, value):
    if isinstance(value, dict):
        return lua.table_from({k: to_lua(lua, v) for k, v in value.items() if v is not None})
    if isinstance(value, list):
        return lua.table_from([to_lua(lua, v) for v in value if v is not None])
    return value


def run(script, obj):
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    assert lua.eval("_VERSION") == "Lua 5.1"
    lua.globals().obj = to_lua(lua, obj)
    result = lua.execute(script)
    return {"status": result["status"], "message": result["message"]}


def main():
    request = json.load(sys.stdin)
    answer = {
        name: [run(script, obj) for obj in request["objects"]]
        for name, script in request["scripts"].items()
    }
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
