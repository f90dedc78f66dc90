//! `--plot DIR`: each table as an SVG line chart (rate against shape, one line
//! per library), written by hand: a few dozen elements need no plotting crate.

use std::fmt::Write as _;
use std::path::Path;

/// One library's rate at each shape of a table (`None` where it has none).
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// A table as a chart: its title, the shapes along x, the unit of y.
pub struct Chart {
    pub title: String,
    pub shapes: Vec<String>,
    pub unit: &'static str,
    pub series: Vec<Series>,
}

/// Line colours, gemmkit's first (Okabe-Ito, distinguishable in colour-blind vision).
const COLOURS: &[&str] = &[
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A round top for the y axis and its tick step: 1, 2 or 5 times a power of ten.
fn axis(max: f64) -> (f64, f64) {
    let max = if max > 0.0 && max.is_finite() { max } else { 1.0 };
    // The smallest such step with at most 8 ticks.
    let raw = max / 8.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|f| f * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    ((max / step).ceil() * step, step)
}

impl Chart {
    /// The chart as an SVG document.
    pub fn svg(&self) -> String {
        let (w, h) = (760.0, 450.0);
        let (left, right, top, bottom) = (64.0, 170.0, 40.0, 100.0);
        let (pw, ph) = (w - left - right, h - top - bottom);
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().flatten())
            .fold(0.0f64, |m, v| m.max(*v));
        let (ymax, step) = axis(max);
        let n = self.shapes.len().max(1);
        let x = |i: usize| {
            left + if n == 1 {
                pw / 2.0
            } else {
                pw * i as f64 / (n - 1) as f64
            }
        };
        let y = |v: f64| top + ph * (1.0 - v / ymax);
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            left + pw / 2.0,
            escape(&self.title)
        );
        // Horizontal grid lines and their labels.
        let decimals = (-step.log10().floor()).max(0.0) as usize;
        for tick in 0..=(ymax / step).round() as usize {
            let v = tick as f64 * step;
            let yy = y(v);
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{yy:.1}" x2="{}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v:.decimals$}</text>"##,
                left + pw,
                left - 6.0,
                yy + 4.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text transform="translate(16 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
            top + ph / 2.0,
            self.unit
        );
        for (i, shape) in self.shapes.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<text transform="translate({:.1} {}) rotate(30)" text-anchor="start">{}</text>"#,
                x(i) - 4.0,
                top + ph + 14.0,
                escape(shape)
            );
        }
        let _ = writeln!(
            s,
            r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
        );
        for (k, series) in self.series.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let width = if k == 0 { 3.0 } else { 1.5 };
            // A line through consecutive shapes that have a value; a gap where one has none.
            let mut run: Vec<String> = vec![];
            let flush = |run: &mut Vec<String>, s: &mut String| {
                if run.len() > 1 {
                    let _ = writeln!(
                        s,
                        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="{width}"/>"#,
                        run.join(" ")
                    );
                }
                run.clear();
            };
            for (i, v) in series.values.iter().enumerate() {
                match v {
                    Some(v) => {
                        run.push(format!("{:.1},{:.1}", x(i), y(*v)));
                        let _ = writeln!(
                            s,
                            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                            x(i),
                            y(*v)
                        );
                    }
                    None => flush(&mut run, &mut s),
                }
            }
            flush(&mut run, &mut s);
            let ly = top + 10.0 + 20.0 * k as f64;
            let _ = writeln!(
                s,
                r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="{width}"/><text x="{}" y="{}">{}</text>"#,
                left + pw + 12.0,
                left + pw + 36.0,
                left + pw + 42.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }

    /// Writes the chart to `dir/name.svg`, saying so on stderr; a failure is
    /// reported there too and does not stop the run.
    pub fn write(&self, dir: &Path, name: &str) {
        let path = dir.join(format!("{name}.svg"));
        match std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, self.svg())) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("--plot: cannot write {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_is_round_and_covers_the_maximum() {
        for (max, top, step) in [
            (97.0, 100.0, 20.0),
            (230.0, 250.0, 50.0),
            (0.0, 1.0, 0.2),
            (1234.0, 1400.0, 200.0),
        ] {
            let (t, s) = axis(max);
            assert!((t - top).abs() < 1e-9 && (s - step).abs() < 1e-9, "{max}: {t} {s}");
        }
    }

    #[test]
    fn svg_has_a_line_per_library_and_gaps_where_values_are_missing() {
        let chart = Chart {
            title: "f32 GEMM, 1 thread".into(),
            shapes: vec!["256".into(), "512".into(), "1024".into()],
            unit: "GFLOP/s",
            series: vec![
                Series {
                    name: "gemmkit".into(),
                    values: vec![Some(80.0), Some(90.0), Some(95.0)],
                },
                Series {
                    name: "a<b".into(),
                    values: vec![Some(70.0), None, Some(60.0)],
                },
            ],
        };
        let svg = chart.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        // One polyline for gemmkit; none for the peer (each of its runs has one point).
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 5);
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
    }
}
