#!/usr/bin/env python3
"""Per time window of a c1m run: accept -> RUNNING p50/p99/max and each hop's p99.

Reads the file `tutti-bench c1m --trace_hops --trace_hops_out=FILE` writes:
  python3 tests/bench/hops_by_window.py FILE [window_seconds]
Windows are by accept time. A tail that comes from stalls shows as a few
windows with a high max; one that comes from queueing as a high p50 in all.
"""
import sys


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    window = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    rows = []
    with open(sys.argv[1]) as f:
        next(f)  # header
        for line in f:
            stamps = [int(x) for x in line.split()[1:]]
            if all(s > 0 for s in stamps):
                rows.append(stamps)
    if not rows:
        sys.exit("no task passed every point")
    t0 = min(r[0] for r in rows)
    e2e = [(r[4] - r[0]) / 1e6 for r in rows]
    print("all: n=%d p50 %.1f ms p99 %.1f ms over 100 ms: %d"
          % (len(rows), pct(e2e, .5), pct(e2e, .99), sum(x > 100 for x in e2e)))
    buckets = {}
    for r in rows:
        buckets.setdefault(int((r[0] - t0) / (window * 1e9)), []).append(r)
    print(" from_s      n  p50_ms  p99_ms  max_ms  hop_p99_ms (accept>launch launch>starting "
          "starting>ack ack>running)")
    for b in sorted(buckets):
        rs = buckets[b]
        e = [(r[4] - r[0]) / 1e6 for r in rs]
        hops = [pct([(r[i + 1] - r[i]) / 1e6 for r in rs], .99) for i in range(4)]
        print("%7.2f %6d %7.1f %7.1f %7.1f  %s" % (b * window, len(rs), pct(e, .5), pct(e, .99),
                                                   max(e), " ".join("%6.1f" % h for h in hops)))


if __name__ == "__main__":
    main()
