#!/usr/bin/env python3
"""Renders the payload fixtures for integration tests.

For every tests/fixtures/payloads/{valid,invalid}/NAME.json: replaces the time placeholders
(@NOW-10m@, @NOW+6m@, @NOW-9m50s@, @NOW-40d@ …) with RFC 3339 UTC times, gives the fixture a
device of its own (every literal "gz-reefer-0042" becomes fx-NNN, so fixtures never share
seqs), writes the bytes to OUTDIR/fx-NNN.json and prints one line per fixture:

    DEVICE|TOPIC_DEVICE|NAME|RECORDS|EXPECT

EXPECT is "valid", "message REASON" or "record I REASON[;record J REASON…]". RECORDS is the
number of records when the payload is a JSON object with a records array, else 0.
Fixtures whose outcome depends on a second of clock (names with "1_second", and
limits_are_inclusive) are left to the unit tests, which control the clock.
"""
import datetime
import json
import os
import re
import sys

PLACEHOLDER = re.compile(rb"@NOW(?:([+-])((?:\d+[dhms])+))?(?:\.(\d+))?(Z|z|[+-]\d\d:\d\d)?@")
UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def render_time(match, now):
    """now + delta, written in the placeholder's offset (Z by default), fraction verbatim."""
    sign, units, frac, zone = (g.decode() if g else None for g in match.groups())
    seconds = sum(int(n) * UNIT[u] for n, u in re.findall(r"(\d+)([dhms])", units or ""))
    t = now + datetime.timedelta(seconds=-seconds if sign == "-" else seconds)
    zone = zone or "Z"
    if zone not in ("Z", "z"):
        off = (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * (-1 if zone[0] == "-" else 1)
        t += datetime.timedelta(seconds=off)
    text = t.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + zone
    return text.encode()


def expectation(path):
    exp = path[:-5] + ".expect"
    if not os.path.exists(exp):
        return None, "valid"
    topic, lines = None, []
    for line in open(exp, encoding="utf-8").read().splitlines():
        if line.startswith("topic "):
            topic = line.split()[1]
        elif line.strip() and not line.startswith("#"):
            lines.append(line.strip())
    return topic, ";".join(lines)


def count_records(data):
    """Elements of the top-level "records" array, by a bracket scanner (the payload may hold
    primitives Python's json module refuses, such as 0x1A, which the ingest must reject
    record by record)."""
    at = data.find(b'"records"')
    if at < 0:
        return 0
    at = data.find(b"[", at)
    if at < 0:
        return 0
    depth, count, in_str, esc, seen = 0, 0, False, False, False
    for c in data[at + 1:]:
        ch = chr(c)
        if in_str:
            if ch == '"' and not esc:
                in_str = False
            esc = not esc and ch == "\\"
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            if depth == 0:
                return count + (1 if seen else 0)
            depth -= 1
        elif ch == "," and depth == 0:
            count += 1
            continue
        if not ch.isspace():
            seen = True
    return 0


def main():
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0, tzinfo=None)
    n = 0
    for kind in ("valid", "invalid"):
        folder = os.path.join(root, kind)
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json") or "1_second" in name or "limits_are_inclusive" in name:
                continue
            n += 1
            device = "fx-%03d" % n
            path = os.path.join(folder, name)
            data = open(path, "rb").read()
            data = PLACEHOLDER.sub(lambda m: render_time(m, now), data)
            data = data.replace(b"gz-reefer-0042", device.encode())
            topic, expect = expectation(path)
            open(os.path.join(out, device + ".json"), "wb").write(data)
            print("|".join([device, topic or device, name[:-5], str(count_records(data)), expect]))


if __name__ == "__main__":
    main()
