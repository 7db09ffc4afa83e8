//! The chart: write throughput against concurrency for both systems, medians over the rounds,
//! drawn as a PNG with plotters. Text needs a TrueType font; DejaVu Sans from Debian's
//! fonts-dejavu-core is used (or `$BENCH_FONT`), since a font of our own would be a binary blob
//! in the repository.

use crate::report::{Report, summarize};
use crate::rounds::Scenario;
use anyhow::Context;
use plotters::prelude::*;
use std::path::Path;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn register_font() -> anyhow::Result<()> {
    let path = std::env::var("BENCH_FONT").unwrap_or_else(|_| FONT.to_string());
    let bytes = std::fs::read(&path).with_context(|| {
        format!("the chart needs a TrueType font at {path} (Debian: fonts-dejavu-core)")
    })?;
    // plotters keeps the font for the life of the process; one chart per run leaks it once.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{path} is not a font plotters can read"))
}

/// (clients, ops/s) per system for one scenario.
fn series(report: &Report, scenario: Scenario) -> [Vec<(f64, f64)>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for row in report.rows.iter().filter(|r| r.case.scenario == scenario) {
        let x = row.case.clients as f64;
        if let Some(s) = summarize(&row.stowage) {
            out[0].push((x, s.per_sec));
        }
        if let Some(e) = summarize(&row.etcd) {
            out[1].push((x, e.per_sec));
        }
    }
    out
}

pub fn draw(report: &Report, path: &Path) -> anyhow::Result<()> {
    register_font()?;
    let [stowage, etcd] = series(report, Scenario::Write);
    let top = stowage.iter().chain(&etcd).map(|p| p.1).fold(0.0, f64::max) * 1.15;
    let right = stowage.iter().chain(&etcd).map(|p| p.0).fold(1.0, f64::max) * 1.3;
    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Writes/s against concurrency (register vs etcd put, same bytes, same run)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d((0.8f64..right).log_scale(), 0f64..top.max(1.0))?;
    chart
        .configure_mesh()
        .x_desc("concurrent clients")
        .y_desc("acknowledged writes per second (median of rounds)")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (name, points, color) in [("stowage", stowage, BLUE), ("etcd", etcd, RED)] {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        chart.draw_series(points.iter().map(|(x, y)| {
            Text::new(
                format!("{y:.0}"),
                (*x, *y),
                ("sans-serif", 14).into_font().color(&color),
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}
