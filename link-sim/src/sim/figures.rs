//! The run's figures: delivery latency against the reference earliest arrival, the contacts
//! used over time, link utilisation and custody re-sends.

use std::collections::{BTreeMap, BTreeSet};

use dtn_core::routing::{NodeId, PlanTime};

use super::plot::{Chart, Series, Style};
use super::world::World;
use crate::model::link::Window;

const HOUR: f64 = 3600.0e9;
const BINS: i64 = 50;

/// All figures, as (file name, SVG). `latency` holds (reference earliest arrival, actual)
/// latencies in seconds, one pair per delivered bundle.
pub fn all(
    world: &World,
    windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>,
    latency: &[(f64, f64)],
    end: PlanTime,
) -> Vec<(String, String)> {
    vec![
        ("latency.svg".into(), latency_chart(latency).to_svg()),
        ("contacts.svg".into(), contacts_chart(world).to_svg()),
        ("utilisation.svg".into(), utilisation_chart(world, windows, end).to_svg()),
        ("custody.svg".into(), resends_chart(world).to_svg()),
    ]
}

fn latency_chart(latency: &[(f64, f64)]) -> Chart {
    let top = latency.iter().map(|p| p.0.max(p.1)).fold(0.0, f64::max);
    Chart {
        title: "Delivery latency against the reference earliest arrival".into(),
        x_label: "reference earliest-arrival latency (s)".into(),
        y_label: "delivered after (s)".into(),
        series: vec![
            Series { name: "bundles".into(), points: latency.to_vec(), style: Style::Points },
            Series { name: "= reference".into(), points: vec![(0.0, 0.0), (top, top)], style: Style::Line },
        ],
    }
}

/// A dot for each link in each minute it carried a frame.
fn contacts_chart(world: &World) -> Chart {
    let links: BTreeSet<(NodeId, NodeId)> =
        world.transmissions().iter().filter(|t| t.sent).map(|t| (t.from, t.to)).collect();
    let index: BTreeMap<(NodeId, NodeId), usize> = links.iter().enumerate().map(|(i, l)| (*l, i)).collect();
    let used: BTreeSet<(usize, i64)> = world
        .transmissions()
        .iter()
        .filter(|t| t.sent)
        .filter_map(|t| Some((*index.get(&(t.from, t.to))?, t.at.0 / 60_000_000_000)))
        .collect();
    let points = used.iter().map(|&(i, minute)| (minute as f64 / 60.0, i as f64)).collect();
    Chart {
        title: format!("Contacts used over time ({} directed links)", links.len()),
        x_label: "time (h)".into(),
        y_label: "link (index)".into(),
        series: vec![Series { name: "frames sent in that minute".into(), points, style: Style::Points }],
    }
}

/// Bytes sent in each time bin over the bytes the plan's contacts could carry in it.
fn utilisation_chart(world: &World, windows: &BTreeMap<(NodeId, NodeId), Vec<Window>>, end: PlanTime) -> Chart {
    let bin = (end.0 / BINS).max(1);
    let mut capacity = vec![0.0f64; BINS as usize];
    for w in windows.values().flatten().filter(|w| w.rate_bytes_per_sec > 0) {
        for (b, cap) in capacity.iter_mut().enumerate() {
            let (from, to) = (bin * b as i64, bin * (b as i64 + 1));
            let overlap = (w.end.0.min(to) - w.start.0.max(from)).max(0);
            *cap += overlap as f64 / 1e9 * w.rate_bytes_per_sec as f64;
        }
    }
    let mut sent = vec![0.0f64; BINS as usize];
    for t in world.transmissions().iter().filter(|t| t.sent) {
        if let Some(s) = usize::try_from(t.at.0 / bin).ok().and_then(|b| sent.get_mut(b)) {
            *s += t.bytes as f64;
        }
    }
    let points = (0..BINS as usize)
        .filter(|&b| capacity[b] > 0.0)
        .map(|b| ((b as f64 + 0.5) * bin as f64 / HOUR, 100.0 * sent[b] / capacity[b]))
        .collect();
    Chart {
        title: "Link utilisation".into(),
        x_label: "time (h)".into(),
        y_label: "bytes sent / contact capacity (%)".into(),
        series: vec![Series { name: "all links".into(), points, style: Style::Line }],
    }
}

/// Cumulative count of frames that re-send a bundle its sender had already sent (custody
/// retransmissions and retries after a failed hand-over).
fn resends_chart(world: &World) -> Chart {
    let mut seen = BTreeSet::new();
    let mut count = 0u64;
    let mut points = vec![(0.0, 0.0)];
    for t in world.transmissions() {
        if !seen.insert((t.from, t.bundle)) {
            count += 1;
            points.push((t.at.0 as f64 / HOUR, count as f64));
        }
    }
    Chart {
        title: format!("Custody retransmissions ({count} in all)"),
        x_label: "time (h)".into(),
        y_label: "re-sent bundles (cumulative)".into(),
        series: vec![Series { name: "re-sends".into(), points, style: Style::Line }],
    }
}
