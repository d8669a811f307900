#!/usr/bin/env python3
"""consume_ab.py — A/B of two mqbench builds catching up on the same topic.

    python3 ch07-client/bench/consume_ab.py NAMESRV TOPIC ROUNDS OLD_MQBENCH NEW_MQBENCH

Each round runs `mqbench --mode consume` of the old build, then of the new one,
each with a group of its own (so each reads the topic from offset 0), and prints
mqbench's SUMMARY line with the consumer's CPU seconds, context switches and
minor page faults (getrusage of the child: what the consumer burned, whatever
else the machine ran).
Fill the topic first, e.g. mqbench -t TOPIC -s 1024 -w 64 --batch 16 --async --duration 25.
Prints figures only; it asserts nothing (see the chapter README, "Where the time goes")."""
import resource
import subprocess
import sys
import time


def run(binary, ns, topic):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    group = "ab%d" % time.time_ns()
    out = subprocess.run(["nice", "-n", "5", binary, "-n", ns, "-t", topic, "--mode", "consume", "-g", group,
                          "--duration", "300"], capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary = next((l for l in out.splitlines() if l.startswith("SUMMARY")), "no SUMMARY line")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return "%s | cpu %.2f s | voluntary context switches %d | minor faults %d" % (
        summary, cpu, after.ru_nvcsw - before.ru_nvcsw, after.ru_minflt - before.ru_minflt)


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    ns, topic, rounds, old, new = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    for r in range(1, rounds + 1):
        for tag, binary in (("old", old), ("new", new)):
            print(r, tag, run(binary, ns, topic), flush=True)


if __name__ == "__main__":
    main()
