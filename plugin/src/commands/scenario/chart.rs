//! The chart of a played scenario (`--report DIR`): VPSieNodes by phase, pending and running
//! pods, and cost per hour over simulated time, as SVG and PNG (plotters; the font is
//! embedded, so nothing depends on the fonts of the machine).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use vpsie_autoscaler::sim::scenario::summary::Sample;

use crate::error::PluginError;

/// The chart's size in pixels.
pub const SIZE: (u32, u32) = (1100, 900);

/// Series names, as the legend shows them.
pub const PENDING: &str = "pending pods";
/// Running pods.
pub const RUNNING: &str = "running pods";
/// Cost.
pub const COST: &str = "cost USD/h";

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

const PHASE_COLORS: [(&str, RGBColor); 8] = [
    ("Pending", RGBColor(150, 150, 150)),
    ("Provisioning", RGBColor(230, 159, 0)),
    ("Provisioned", RGBColor(240, 228, 66)),
    ("Joining", RGBColor(86, 180, 233)),
    ("Ready", RGBColor(0, 158, 115)),
    ("Terminating", RGBColor(204, 121, 167)),
    ("Deleting", RGBColor(213, 94, 0)),
    ("Failed", RGBColor(200, 0, 0)),
];

fn color_of(phase: &str) -> RGBColor {
    PHASE_COLORS
        .iter()
        .find(|(p, _)| *p == phase)
        .map(|(_, c)| *c)
        .unwrap_or(RGBColor(0, 0, 0))
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, title: &str, samples: &[Sample]) -> Drawn
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 24))?;
    let panels = root.split_evenly((3, 1));
    let minutes = |s: &Sample| s.t / 60.0;
    let x_end = samples.last().map(minutes).unwrap_or(1.0).max(0.1);

    // nodes by phase
    let phases: BTreeSet<&str> = samples
        .iter()
        .flat_map(|s| s.nodes_by_phase.keys().map(String::as_str))
        .collect();
    let y_max = samples
        .iter()
        .flat_map(|s| s.nodes_by_phase.values().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut c = ChartBuilder::on(&panels[0])
        .caption("VPSieNodes by phase", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_end, 0.0..y_max * 1.15)?;
    c.configure_mesh()
        .x_desc("minutes")
        .y_desc("nodes")
        .draw()?;
    for phase in &phases {
        let color = color_of(phase);
        c.draw_series(LineSeries::new(
            samples.iter().map(|s| {
                (
                    minutes(s),
                    s.nodes_by_phase.get(*phase).copied().unwrap_or(0) as f64,
                )
            }),
            color.stroke_width(2),
        ))?
        .label(*phase)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;

    // pods
    let p_max = samples
        .iter()
        .map(|s| s.pending_pods.max(s.running_pods))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut c = ChartBuilder::on(&panels[1])
        .caption("Pods", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..x_end, 0.0..p_max * 1.15)?;
    c.configure_mesh().x_desc("minutes").y_desc("pods").draw()?;
    let red = RGBColor(200, 30, 30);
    let blue = RGBColor(30, 90, 200);
    c.draw_series(LineSeries::new(
        samples.iter().map(|s| (minutes(s), s.pending_pods as f64)),
        red.stroke_width(2),
    ))?
    .label(PENDING)
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    c.draw_series(LineSeries::new(
        samples.iter().map(|s| (minutes(s), s.running_pods as f64)),
        blue.stroke_width(2),
    ))?
    .label(RUNNING)
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;

    // cost
    let c_max = samples
        .iter()
        .map(|s| s.cost_per_hour)
        .fold(0.0, f64::max)
        .max(0.01);
    let mut c = ChartBuilder::on(&panels[2])
        .caption("Cost per hour (USD)", ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_end, 0.0..c_max * 1.15)?;
    c.configure_mesh()
        .x_desc("minutes")
        .y_desc("USD/h")
        .y_label_formatter(&|v| format!("{v:.3}"))
        .draw()?;
    let green = RGBColor(0, 120, 60);
    c.draw_series(LineSeries::new(
        samples.iter().map(|s| (minutes(s), s.cost_per_hour)),
        green.stroke_width(2),
    ))?
    .label(COST)
    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], green.stroke_width(2)));
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Writes `chart.svg` and `chart.png` into `dir`.
pub fn write(dir: &Path, title: &str, samples: &[Sample]) -> Result<(), PluginError> {
    register_font();
    let svg = dir.join("chart.svg");
    let png = dir.join("chart.png");
    let fail = |path: &Path, e: Box<dyn std::error::Error>| {
        PluginError::Config(format!("cannot draw {}: {e}", path.display()))
    };
    draw(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        title,
        samples,
    )
    .map_err(|e| fail(&svg, e))?;
    draw(
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        title,
        samples,
    )
    .map_err(|e| fail(&png, e))?;
    Ok(())
}
