#!/usr/bin/env python3
"""Writes the fuzz seed corpora from ../shared/spec (run from the repo root or fuzz/)."""
import json, os, pathlib
here = pathlib.Path(__file__).resolve().parent
spec = here.parent.parent / "shared" / "spec"
samples = json.load(open(spec / "bpv7-sample-bundles.json"))
invalid = json.load(open(spec / "bpv7-invalid-bundles.json"))
bpsec = json.load(open(spec / "bpsec-rfc9173-vectors.json"))
out = here / "corpus" / "bundle_decode"
out.mkdir(parents=True, exist_ok=True)
cases = samples["samples"] + samples["edge_cases"] + [s for s in samples["external_samples"] if s.get("hex")] + invalid["cases"]
for case in cases:
    (out / case["id"]).write_bytes(bytes.fromhex(case["hex"]))
for name, ex in bpsec["examples"].items():
    for key in ("input_bundle", "output_bundle"):
        (out / f"rfc9173_{name}_{key}").write_bytes(bytes.fromhex(ex[key]))
eids = here / "corpus" / "eid_parse"
eids.mkdir(parents=True, exist_ok=True)
for kind in ("valid", "invalid"):
    for i, v in enumerate(samples["eid_vectors"][kind]):
        (eids / f"{kind}_{i}").write_bytes(bytes.fromhex(v["hex"]))
for i, text in enumerate(["ipn:1.1", "ipn:977000.1.1", "dtn://node/svc", "dtn:none", "ipn:4294967296.1"]):
    (eids / f"text_{i}").write_bytes(text.encode())
plans = here / "corpus" / "contact_plan_parse"
plans.mkdir(parents=True, exist_ok=True)
scen = here.parent.parent / "shared" / "scenarios"
(plans / "small-ionrc").write_text("".join(open(scen / "small.ionrc").readlines()[:30]))
(plans / "small-csv").write_text("".join(open(scen / "small.csv").readlines()[:20]))
tcpcl = json.load(open(spec / "tcpclv4-messages.json"))
sessions = here / "corpus" / "tcpcl_session"
sessions.mkdir(parents=True, exist_ok=True)
# First byte: bit 0 = start established (contact header + SESS_INIT given), the rest = piece size.
for m in tcpcl["messages"] + tcpcl["invalid_or_error_cases"] + tcpcl["external_vectors"]:
    raw = bytes.fromhex(m["hex"])
    established = not raw.startswith(b"dtn!")
    (sessions / m["id"]).write_bytes(bytes([0xFF if established else 0xFE]) + raw)


# LTP: records of [peer, time step, length lo, length hi, segment], peer 0 = engine 3.
def sdnv(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    return bytes(reversed(out))


def seg(kind, originator, number, content):
    return bytes([kind]) + sdnv(originator) + sdnv(number) + b"\x00" + content


def data(kind, number, offset, payload, serials=b""):
    return seg(kind, 3, number, sdnv(1) + sdnv(offset) + sdnv(len(payload)) + serials + payload)


def record(peer, step, segment):
    return bytes([peer, step, len(segment) & 0xFF, len(segment) >> 8]) + segment


ltp = here / "corpus" / "ltp_segment"
ltp.mkdir(parents=True, exist_ok=True)
red = record(0, 1, data(0, 1, 0, b"a" * 100)) + record(0, 1, data(2, 1, 100, b"b" * 50, sdnv(1) + sdnv(0)))
(ltp / "red_block").write_bytes(red + record(0, 3, seg(9, 3, 1, sdnv(1))))
(ltp / "green_block").write_bytes(record(0, 1, data(4, 2, 0, b"g" * 30)) + record(0, 1, data(7, 2, 30, b"h" * 30)))
# Reports for the engine's own export session 1 (3,000 red bytes of 5,000).
report = seg(8, 2, 1, sdnv(1) + sdnv(1) + sdnv(3000) + sdnv(0) + sdnv(2) + sdnv(0) + sdnv(1000) + sdnv(2000) + sdnv(1000))
full = seg(8, 2, 1, sdnv(2) + sdnv(2) + sdnv(3000) + sdnv(0) + sdnv(1) + sdnv(0) + sdnv(3000))
(ltp / "export_reports").write_bytes(record(0, 200, report) + record(0, 200, full))
(ltp / "cancels").write_bytes(
    red[: len(red) // 2] + record(0, 1, seg(12, 3, 1, b"\x02")) + record(0, 1, seg(14, 2, 1, b"\x04")) + record(2, 9, seg(13, 2, 1, b""))
)
(ltp / "extensions").write_bytes(record(1, 1, bytes([9, 1, 1, 0x11, 0, 1, 0xAA]) + sdnv(4) + bytes([1, 0])))
