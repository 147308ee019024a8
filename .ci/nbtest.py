"""Run every notebook's tests (nbdev's `test_nb`, honouring `tst_flags`) and print one summary line.

nbdev_test prints only "Success." or the failing names; CI wants a count and per-notebook timings.
Extra arguments are flags to force, e.g. `python .ci/nbtest.py slow`.
"""
import sys, time
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.test import test_nb


def main(force=()):
    cfg = get_config()
    files = sorted(f.absolute() for f in nbglob(as_path=True))
    skip, base = cfg.tst_flags.split(), cfg.config_path
    start = time.time()
    # the task must pickle by reference to nbdev: running a notebook replaces the worker's `__main__`
    run = partial(test_nb, skip_flags=skip, force_flags=list(force), basepath=base)
    with ProcessPoolExecutor(max_workers=2) as pool: results = [(fn, *r) for fn, r in zip(files, pool.map(run, files))]
    for fn, ok, secs in results: print(f"{'PASS' if ok else 'FAIL'} {fn.name} ({secs:.0f}s)")
    n_fail = sum(not ok for _, ok, _ in results)
    print(f"nbdev_test: {len(results) - n_fail} passed, {n_fail} failed in {time.time() - start:.0f}s")
    return 1 if n_fail or not results else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
