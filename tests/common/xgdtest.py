"""The preamble every Python test shares (the Python twin of tests/test.h): where things are, scratch
folders, skipping, and counted assertions that keep going and end in one `name: P passed, F failed`
line and the exit status ctest reads (0 passed, 1 failed, 77 skipped).

A test imports it with
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
    import xgdtest as xt  # noqa: E402
This folder holds no test_* file, so CMake's test globs never register it as a test."""
import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# ctest sets XGD; run by hand, the default build folder's binary is used.
XGD = os.environ.get("XGD") or os.path.join(ROOT, "build", "xgd")
SHARED = os.environ.get("XGD_SHARED") or os.path.normpath(os.path.join(ROOT, "..", "shared"))
SANITIZED = os.environ.get("XGD_SANITIZED", "0") in ("1", "ON", "TRUE", "true")   # the ASan/UBSan build

passed = 0
failures = []      # the messages of the failed checks, in order


def check(cond, what):
    """Count one assertion; a failed one prints `FAIL: what` and the test goes on."""
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return bool(cond)


def summary(name):
    """Print `name: P passed, F failed`; the exit status: 1 when any check failed, else 0."""
    print(f"{name}: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


def done(name):
    """summary(name), then exit with its status."""
    sys.exit(summary(name))


def skip(why):
    """Exit 77 (ctest: skipped) with the reason on one line."""
    print(f"skip: {why}")
    sys.exit(77)


def need_xgd():
    """Skip unless the xgd binary exists (a test run outside ctest before a build)."""
    if not os.path.exists(XGD):
        skip(f"{XGD} not built")
    return XGD


def need_shared(*rel):
    """SHARED, or skip naming the first of the paths below it (`data/rtp-lx`, ...) that is absent.
    With no paths, SHARED itself must exist."""
    for r in rel or ("",):
        p = os.path.join(SHARED, r)
        if not os.path.exists(p):
            skip(f"{p} is absent (set XGD_SHARED to the shared data folder)")
    return SHARED


def tmpdir(name, clean=True):
    """$XGD_TMP/<name> (or /tmp/xgd-test/<name>), created; emptied first unless clean=False."""
    d = os.path.join(os.environ.get("XGD_TMP") or "/tmp/xgd-test", name)
    if clean:
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, exist_ok=True)
    return d
