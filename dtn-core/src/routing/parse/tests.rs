//! Every parser error path names its line and field.

use super::csv::{HEADER, OwltColumn};
use super::*;
use crate::routing::time::{NANOS_PER_SEC, PlanTime};

fn ion(text: &str) -> Result<LoadedPlan, PlanError> {
    ion::parse(text, ImportPolicy::Skip)
}

fn syntax_error(text: &str) -> ParseError {
    match ion(text) {
        Err(PlanError::Parse(e)) => e,
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn ion_contacts_and_symmetric_ranges() {
    let plan =
        ion("# plan\na contact +0 +100 1 2 1000\na contact +10 +20 2 1 500 0.5\na range +0 +100 1 2 3\n1 1 ''\ns\n")
            .unwrap()
            .plan;
    assert_eq!(plan.contacts().len(), 2);
    let back = plan.contacts()[1];
    assert_eq!(back.owlt_nanos, 3 * NANOS_PER_SEC, "range 1 2 applies to 2 1 too");
    assert_eq!(back.confidence, 0.5);
    assert_eq!(back.rate_bytes_per_sec, 500);
}

#[test]
fn ion_explicit_reverse_range_wins() {
    let plan = ion("a contact +0 +100 2 1 1000\na range +0 +100 1 2 3\na range +0 +100 2 1 1\n").unwrap().plan;
    assert_eq!(plan.contacts()[0].owlt_nanos, NANOS_PER_SEC);
}

#[test]
fn ion_absolute_times_against_reference() {
    let text = "@ 2024/01/01-00:00:00\na contact 2024/01/01-00:01:00 +3600 1 2 10\na range +0 +86400 1 2 1\n";
    let plan = ion(text).unwrap().plan;
    assert_eq!(plan.contacts()[0].start, PlanTime::from_secs(60));
    assert_eq!(plan.reference(), Some(crate::time::DtnTime(757_382_400_000)));
    let e = syntax_error("a contact 2024/01/01-00:01:00 +3600 1 2 10\n");
    assert_eq!((e.line, e.field), (1, "from-time"));
}

#[test]
fn ion_change_and_delete() {
    let text = "a contact +0 +100 1 2 1000\na contact +200 +300 1 2 1000\na range +0 +400 1 2 1\nc contact +0 1 2 7\nd contact +200 1 2\n";
    let plan = ion(text).unwrap().plan;
    assert_eq!(plan.contacts().len(), 1);
    assert_eq!(plan.contacts()[0].rate_bytes_per_sec, 7);
    let all_gone = ion("a contact +0 +100 1 2 1000\na contact +200 +300 1 2 1000\nd contact * 1 2\n").unwrap();
    assert!(all_gone.plan.contacts().is_empty());
    let no_range = ion("a contact +0 +100 1 2 1000\na range +0 +100 1 2 1\nd range * 1 2\n").unwrap();
    assert_eq!(no_range.problems[0].kind, ProblemKind::NoRange);
}

#[test]
fn ion_syntax_errors_name_line_and_field() {
    for (text, line, field) in [
        ("a contact +0 +10 1 2\n", 1, "rate"),
        ("\na contact +0 +10 x 2 5\n", 2, "from-node"),
        ("a contact +0 +10 1 -2 5\n", 1, "to-node"),
        ("a contact 0 +10 1 2 5\n", 1, "from-time"),
        ("a contact +0 +1x 1 2 5\n", 1, "until-time"),
        ("a contact +0 +10 1 2 5 1.5\n", 1, "confidence"),
        ("a range +0 +10 1 2\n", 1, "owlt"),
        ("a range +0 +10 1 2 -1\n", 1, "owlt"),
        ("a plan +0\n", 1, "object"),
        ("a\n", 1, "object"),
        ("z contact\n", 1, "command"),
        ("c contact +0 1 2 5\n", 1, "contact"),
        ("@ yesterday\n", 1, "reference time"),
        ("@\n", 1, "reference time"),
        ("@ 2024/13/01-00:00:00\n", 1, "reference time"),
        ("d contact +0 1\n", 1, "to-node"),
        ("d range +0 x 2\n", 1, "from-node"),
    ] {
        let e = syntax_error(text);
        assert_eq!((e.line, e.field), (line, field), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&alloc::format!("line {line}, {field}")));
    }
}

#[test]
fn import_checks_report_or_reject() {
    let text = "a range +0 +1000 1 2 1\na contact +50 +40 1 2 10\na contact +0 +10 1 2 0\na contact +0 +10 1 2 -5\na contact +20 +30 1 2 10\na contact +20 +30 1 2 10\n";
    let loaded = ion(text).unwrap();
    let kinds: alloc::vec::Vec<_> = loaded.problems.iter().map(|p| (p.line, p.kind.clone())).collect();
    assert_eq!(
        kinds,
        [
            (2, ProblemKind::EndsBeforeStart),
            (3, ProblemKind::NonPositiveRate(0)),
            (4, ProblemKind::NonPositiveRate(-5)),
            (6, ProblemKind::Duplicate { first_line: 5 }),
        ]
    );
    assert_eq!(loaded.plan.contacts().len(), 1);
    match ion::parse(text, ImportPolicy::Reject) {
        Err(PlanError::Rejected(p)) => assert_eq!(p.line, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_reads_millisecond_light_times() {
    let text = alloc::format!("{HEADER}\n100,101,0,86400,1250000000,68.520,68.600,terrestrial,0.000,86400.000\n");
    let max = csv::parse(&text, OwltColumn::Max, ImportPolicy::Reject).unwrap().plan;
    assert_eq!(max.contacts()[0].owlt_nanos, 68_600_000);
    let min = csv::parse(&text, OwltColumn::Min, ImportPolicy::Reject).unwrap().plan;
    assert_eq!(min.contacts()[0].owlt_nanos, 68_520_000);
}

#[test]
fn csv_errors_name_line_and_field() {
    for (body, field) in [
        ("x,101,0,10,5,1,1,k,0,10", "from"),
        ("100,101,0,10,five,1,1,k,0,10", "rate_Bps"),
        ("100,101,0,10,5,1", "owlt_max_ms"),
        ("100,101,0,10,5,2,1,k,0,10", "owlt_max_ms"),
        ("100,101,a,10,5,1,1,k,0,10", "start"),
    ] {
        let text = alloc::format!("{HEADER}\n{body}\n");
        match csv::parse(&text, OwltColumn::Max, ImportPolicy::Skip) {
            Err(PlanError::Parse(e)) => assert_eq!((e.line, e.field), (2, field), "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    match csv::parse("from,to\n", OwltColumn::Max, ImportPolicy::Skip) {
        Err(PlanError::Parse(e)) => assert_eq!((e.line, e.field), (1, "header")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_overlay_replaces_whole_second_light_times() {
    let plan = ion("a contact +0 +100 1 2 1000\na range +0 +100 1 2 1\n").unwrap().plan;
    let text = alloc::format!("{HEADER}\n1,2,0,100,1000,0.5,0.75,k,0,100\n");
    let (overlaid, matched) = csv::overlay_owlt(&plan, &text, OwltColumn::Max).unwrap();
    assert_eq!(matched, 1);
    assert_eq!(overlaid.contacts()[0].owlt_nanos, 750_000);
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "[a-z@#+0-9 ./:,*-]{0,120}(\n[a-z@#+0-9 ./:,*-]{0,60}){0,4}") {
        let _ = ion::parse(&text, ImportPolicy::Skip);
        let _ = ion::parse(&text, ImportPolicy::Reject);
        let _ = csv::parse(&text, OwltColumn::Max, ImportPolicy::Skip);
    }
}

#[test]
fn hdtn_json_converts_bits_and_keeps_zero_as_unlimited() {
    let text = r#"{
  "contacts": [
    {"contact": 0, "source": 10, "dest": 20, "startTime": 0, "endTime": 3600, "rateBitsPerSec": 8000000, "owlt": 1},
    {"contact": 1, "source": 20, "dest": 10, "startTime": 10.5, "endTime": 20, "rateBitsPerSec": 0},
    {"contact": 2, "source": 20, "dest": 30, "startTime": 0, "endTime": 20, "rate": 2.5, "owlt": 0.25}
  ]
}"#;
    let plan = hdtn::parse(text, ImportPolicy::Reject).unwrap().plan;
    let c = plan.contacts();
    assert_eq!(c[0].rate_bytes_per_sec, 1_000_000);
    assert_eq!(c[0].owlt_nanos, NANOS_PER_SEC);
    assert_eq!(c[1].rate_bytes_per_sec, 0);
    assert_eq!(c[1].volume(), u64::MAX);
    assert_eq!(c[1].start, PlanTime(10_500_000_000));
    assert_eq!(c[2].rate_bytes_per_sec, 312_500);
    assert_eq!(c[2].owlt_nanos, 250_000_000);
}

#[test]
fn hdtn_json_errors_name_line_and_field() {
    for (text, line, field) in [
        ("{\"contacts\": [\n{\"source\": 1, \"dest\": 2, \"startTime\": 0, \"endTime\": 9}\n]}", 2, "rateBitsPerSec"),
        ("{\"contacts\": [\n\n{\"source\": \"a\", \"dest\": 2}]}", 3, "source"),
        (
            "{\"contacts\": [{\"source\": 1, \"dest\": 2, \"startTime\": -1, \"endTime\": 9, \"rate\": 1}]}",
            1,
            "startTime",
        ),
        ("{\"plan\": []}", 1, "contacts"),
        ("{\"contacts\": {}}", 1, "contacts"),
        ("{\"contacts\": [1]}", 1, "contact"),
        ("{\"contacts\": [\n{\"source\": 1,,}]}", 2, "json"),
        ("{\"contacts\": []} x", 1, "json"),
        ("[\n\"unterminated", 2, "json"),
        ("{\"contacts\": [{\"source\": 01}]}", 1, "json"),
    ] {
        match hdtn::parse(text, ImportPolicy::Skip) {
            Err(PlanError::Parse(e)) => assert_eq!((e.line, e.field), (line, field), "{text}: {e}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn json_reader_handles_escapes_and_nesting_limits() {
    let v = json::parse("{\"a\\n\\u0041\": [true, false, null, -1.5e3, \"x\\\"y\"]}").unwrap();
    assert!(v.get("a\nA").is_some());
    let deep = "[".repeat(100);
    assert!(json::parse(&deep).is_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_json_never_panics(text in "[\\[\\]{}\",:0-9a-z.\\\\ \n-]{0,80}") {
        let _ = hdtn::parse(&text, ImportPolicy::Skip);
    }
}
