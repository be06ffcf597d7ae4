"""Calls one PEP 517 hook of a build backend; run by cairn in the build environment.

Usage: python hooks.py HOOK BACKEND BACKEND_PATH_JSON CONFIG_JSON OUTDIR RESULT_FILE
The backend's own output goes to stdout and stderr; the hook's return value, as JSON, to
RESULT_FILE.
"""
import importlib
import json
import os
import sys


def main():
    hook, backend_spec, backend_path, config, outdir, result_file = sys.argv[1:7]
    for entry in reversed(json.loads(backend_path)):
        sys.path.insert(0, os.path.abspath(entry))
    module_name, _, attribute = backend_spec.partition(":")
    backend = importlib.import_module(module_name)
    for part in filter(None, attribute.split(".")):
        backend = getattr(backend, part)
    config_settings = json.loads(config) or None
    if hook == "get_requires_for_build_wheel":
        function = getattr(backend, hook, None)
        result = list(function(config_settings)) if function else []
    elif hook == "build_wheel":
        result = backend.build_wheel(outdir, config_settings)
    else:
        raise SystemExit("unknown hook " + hook)
    with open(result_file, "w", encoding="utf-8") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()
