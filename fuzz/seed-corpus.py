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
