# A bytecode compiler worker for cairn-install (see compile.rs).
#
# Reads one absolute path per line on stdin (bytes, as the file system names them) and answers
# each with one line on stdout: `ok`, or `error <message>` when the file cannot be compiled
# (a syntax error, say, in Python 2 code a wheel vendors). pip and uv ignore such failures too.
# `py_compile.compile` writes `__pycache__/<name>.<tag>.pyc` beside the source, atomically, with
# the invalidation mode `compileall` would choose (timestamps, or checked hashes when
# SOURCE_DATE_EPOCH is set).
import os
import py_compile
import sys
import warnings

warnings.filterwarnings("ignore")
out = sys.stdout.buffer
out.write(b"ready\n")
out.flush()
for line in sys.stdin.buffer:
    path = os.fsdecode(line.rstrip(b"\n"))
    try:
        py_compile.compile(path, dfile=path, doraise=True)
        out.write(b"ok\n")
    except Exception as error:  # noqa: BLE001 - every failure is reported, none is fatal
        message = " ".join(str(error).split())
        out.write(b"error " + message.encode("utf-8", "backslashreplace") + b"\n")
    out.flush()
