"""Run every notebook's tests (nbdev's `test_nb`, honouring `tst_flags`) and print one summary line.

nbdev_test prints only "Success." or the failing names; CI wants a count and per-notebook timings.
Extra arguments are flags to force, e.g. `python .ci/nbtest.py slow`.
"""
import sys, time
from concurrent.futures import ProcessPoolExecutor

from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import test_nb


def run_one(fn, skip, force, base):
    ok, secs = test_nb(fn, skip_flags=skip, force_flags=force, basepath=base)
    return fn, ok, secs


def main(force=()):
    cfg = get_config()
    files = sorted(f.absolute() for f in nbglob(as_path=True))
    skip, base = cfg.tst_flags.split(), cfg.config_path
    start = time.time()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_one, files, [skip] * len(files), [list(force)] * len(files), [base] * len(files)))
    for fn, ok, secs in results: print(f"{'PASS' if ok else 'FAIL'} {fn.name} ({secs:.0f}s)")
    n_fail = sum(not ok for _, ok, _ in results)
    print(f"nbdev_test: {len(results) - n_fail} passed, {n_fail} failed in {time.time() - start:.0f}s")
    return 1 if n_fail or not results else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
