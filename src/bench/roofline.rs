//! `wgconv bench --roofline out.svg`: a roofline plot of a report as self-contained SVG text.
//!
//! Each item is a point at (arithmetic intensity = FLOPs / minimum bytes moved, achieved
//! GFLOP/s) on log-log axes, under the adapter's roofs: `min(peak GFLOP/s, peak GB/s x
//! intensity)`. A point's height under its roof is the headroom; which roof it sits under says
//! whether more FLOP/s or more bandwidth would help. Items with no FLOPs (pure data movement)
//! have no place on a log intensity axis; they are listed under the plot instead.

use std::fmt::Write;

use super::Report;

/// One plotted item.
#[derive(Clone, Debug, PartialEq)]
pub struct RooflinePoint {
    /// Suite item name.
    pub name: String,
    /// FLOP per byte of minimum traffic.
    pub intensity: f64,
    /// Achieved GFLOP/s (at the median time).
    pub gflops: f64,
    /// A whole network rather than one layer.
    pub model: bool,
}

/// The points of `report` that can be drawn (positive, finite intensity and throughput), and
/// the names of those that cannot.
pub fn points(report: &Report) -> (Vec<RooflinePoint>, Vec<String>) {
    let mut ok = Vec::new();
    let mut left_out = Vec::new();
    let items = report
        .items
        .iter()
        .map(|r| (&r.name, r.gflops, r.gbs, false));
    let models = report.models.iter().map(|m| {
        let gbs = m.bytes as f64 / (m.median_ms * 1e-3) / 1e9;
        (&m.name, m.gflops, gbs, true)
    });
    for (name, gflops, gbs, model) in items.chain(models) {
        // FLOP/byte = (FLOP/s) / (byte/s): the medians cancel.
        let intensity = gflops / gbs;
        if intensity.is_finite() && intensity > 0.0 && gflops.is_finite() && gflops > 0.0 {
            ok.push(RooflinePoint {
                name: name.clone(),
                intensity,
                gflops,
                model,
            });
        } else {
            left_out.push(name.clone());
        }
    }
    (ok, left_out)
}

/// Escapes text for SVG content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// `10^k` as a short label: 0.01, 0.1, 1, 10, 100, 1k, 10k, 100k, 1M.
fn decade_label(k: i32) -> String {
    match k {
        k if k < 0 => format!("{}", 10f64.powi(k)),
        0..=2 => format!("{}", 10i64.pow(k as u32)),
        3..=5 => format!("{}k", 10i64.pow(k as u32 - 3)),
        _ => format!("1e{k}"),
    }
}

fn usable(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then_some(v)
}

/// The roofline of `report` as an SVG document (peaks from `report.peak`; a missing or NaN
/// peak draws no roof of that kind).
pub fn svg(report: &Report) -> String {
    let (pts, left_out) = points(report);
    let peak_f = report.peak.and_then(|p| usable(p.gflops));
    let peak_b = report.peak.and_then(|p| usable(p.gbs));

    // Axis ranges in decades, covering every point and the ridge point.
    let mut xs: Vec<f64> = pts.iter().map(|p| p.intensity).collect();
    let mut ys: Vec<f64> = pts.iter().map(|p| p.gflops).collect();
    if let (Some(f), Some(b)) = (peak_f, peak_b) {
        xs.push(f / b);
    }
    if let Some(f) = peak_f {
        ys.push(f);
    }
    let span = |v: &[f64], default: (f64, f64)| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi.is_finite() {
            let lo = lo.log10().floor() as i32;
            let hi = (hi.log10().ceil() as i32).max(lo + 1);
            (lo, hi)
        } else {
            (default.0 as i32, default.1 as i32)
        }
    };
    let (x0, x1) = span(&xs, (-2.0, 3.0));
    // The bandwidth roof at the left edge should be visible too.
    if let Some(b) = peak_b {
        ys.push(b * 10f64.powi(x0));
    }
    let (y0, y1) = span(&ys, (-1.0, 3.0));

    let (w, h) = (960.0, 640.0);
    let (ml, mr, mt, mb) = (
        90.0,
        40.0,
        60.0,
        70.0 + 16.0 * (!left_out.is_empty()) as u8 as f64,
    );
    let (pw, ph) = (w - ml - mr, h - mt - mb);
    let sx = |x: f64| ml + (x.log10() - x0 as f64) / (x1 - x0) as f64 * pw;
    let sy = |y: f64| mt + ph - (y.log10() - y0 as f64) / (y1 - y0) as f64 * ph;
    let (xmin, xmax) = (10f64.powi(x0), 10f64.powi(x1));
    let (ymin, ymax) = (10f64.powi(y0), 10f64.powi(y1));

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<style>.grid{{stroke:#ddd;stroke-width:1}} .roof{{stroke:#c0392b;stroke-width:2;fill:none}} .layer{{fill:#2471a3}} .model{{fill:#e67e22}} .lbl{{fill:#222;font-size:11px}} .frame{{fill:none;stroke:#444}} .roofl{{fill:#c0392b}}</style>
<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>
<text x="{tx}" y="24" text-anchor="middle" font-size="16">Roofline: {title}</text>"#,
        tx = w / 2.0,
        title = esc(&report.adapter),
    );
    let _ = writeln!(
        s,
        r#"<clipPath id="plot"><rect x="{ml}" y="{mt}" width="{pw}" height="{ph}"/></clipPath>"#
    );

    // Decade grid and tick labels.
    for k in x0..=x1 {
        let x = sx(10f64.powi(k));
        let _ = writeln!(
            s,
            r#"<line class="grid" x1="{x:.1}" y1="{mt}" x2="{x:.1}" y2="{yb:.1}"/><text x="{x:.1}" y="{ty:.1}" text-anchor="middle">{l}</text>"#,
            yb = mt + ph,
            ty = mt + ph + 18.0,
            l = decade_label(k)
        );
    }
    for k in y0..=y1 {
        let y = sy(10f64.powi(k));
        let _ = writeln!(
            s,
            r#"<line class="grid" x1="{ml}" y1="{y:.1}" x2="{xr:.1}" y2="{y:.1}"/><text x="{tx:.1}" y="{ty:.1}" text-anchor="end">{l}</text>"#,
            xr = ml + pw,
            tx = ml - 8.0,
            ty = y + 4.0,
            l = decade_label(k)
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" class="frame"/>
<text x="{cx:.1}" y="{by:.1}" text-anchor="middle">arithmetic intensity (FLOP / byte of minimum traffic)</text>
<text x="20" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 20 {cy:.1})">achieved GFLOP/s</text>"#,
        cx = ml + pw / 2.0,
        by = mt + ph + 42.0,
        cy = mt + ph / 2.0,
    );

    // Roofs: bandwidth diagonal up to the ridge, compute flat after it.
    let mut roof = Vec::new();
    match (peak_f, peak_b) {
        (Some(f), Some(b)) => {
            let ridge = f / b;
            roof.push((xmin, f.min(b * xmin)));
            if ridge > xmin && ridge < xmax {
                roof.push((ridge, f));
            }
            roof.push((xmax, f.min(b * xmax)));
        }
        (Some(f), None) => roof.extend([(xmin, f), (xmax, f)]),
        (None, Some(b)) => roof.extend([(xmin, b * xmin), (xmax, b * xmax)]),
        (None, None) => {}
    }
    if !roof.is_empty() {
        let path: Vec<String> = roof
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y.clamp(ymin * 1e-3, ymax * 1e3))))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline class="roof" clip-path="url(#plot)" points="{}"/>"#,
            path.join(" ")
        );
        let mut note = Vec::new();
        if let Some(f) = peak_f {
            note.push(format!("peak {f:.0} GFLOP/s"));
        }
        if let Some(b) = peak_b {
            note.push(format!("{b:.0} GB/s"));
        }
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="end" class="roofl">roof: {}</text>"#,
            note.join(", "),
            x = ml + pw - 6.0,
            y = mt + 16.0
        );
    } else {
        let _ = writeln!(
            s,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="end" class="roofl">peak unknown for this adapter: pass --peak-gflops and --peak-gbs for roofs</text>"#,
            x = ml + pw - 6.0,
            y = mt + 16.0
        );
    }

    // Points, labelled; hover text carries the numbers. Labels go to the first of a few spots
    // around their point that does not overlap a label already placed (clusters of similar
    // layers are common).
    let mut placed: Vec<[f64; 4]> = pts
        .iter()
        .map(|p| {
            let (x, y) = (sx(p.intensity), sy(p.gflops));
            [x - 5.0, y - 5.0, x + 5.0, y + 5.0]
        })
        .collect();
    for p in &pts {
        let (x, y) = (sx(p.intensity), sy(p.gflops));
        let class = if p.model { "model" } else { "layer" };
        let tw = 6.5 * p.name.chars().count() as f64;
        let spots = [
            (6.0, -5.0, false),
            (6.0, 14.0, false),
            (-6.0, -5.0, true),
            (-6.0, 14.0, true),
            (6.0, -18.0, false),
            (6.0, 27.0, false),
            (-6.0, -18.0, true),
            (-6.0, 27.0, true),
        ];
        let rect = |&(dx, dy, left): &(f64, f64, bool)| {
            let x0 = if left { x + dx - tw } else { x + dx };
            [x0, y + dy - 10.0, x0 + tw, y + dy + 2.0]
        };
        let overlaps = |r: &[f64; 4]| {
            placed
                .iter()
                .any(|q| r[0] < q[2] && q[0] < r[2] && r[1] < q[3] && q[1] < r[3])
        };
        let spot = spots
            .iter()
            .find(|s| !overlaps(&rect(s)))
            .unwrap_or(&spots[0]);
        placed.push(rect(spot));
        let _ = writeln!(
            s,
            r#"<g class="point"><circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="4.5"><title>{n}: {i:.3} FLOP/B, {g:.2} GFLOP/s</title></circle><text class="lbl" x="{lx:.1}" y="{ly:.1}" text-anchor="{anchor}">{n}</text></g>"#,
            n = esc(&p.name),
            i = p.intensity,
            g = p.gflops,
            lx = x + spot.0,
            ly = y + spot.1,
            anchor = if spot.2 { "end" } else { "start" },
        );
    }
    // Legend.
    let _ = writeln!(
        s,
        r#"<circle class="layer" cx="{a:.1}" cy="44" r="4.5"/><text x="{b:.1}" y="48">layer</text><circle class="model" cx="{c:.1}" cy="44" r="4.5"/><text x="{d:.1}" y="48">network</text>"#,
        a = ml + 6.0,
        b = ml + 14.0,
        c = ml + 66.0,
        d = ml + 74.0
    );
    if !left_out.is_empty() {
        let _ = writeln!(
            s,
            r#"<text x="{ml}" y="{y:.1}">not plotted (no FLOPs): {}</text>"#,
            esc(&left_out.join(", ")),
            y = h - 12.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decade_labels() {
        assert_eq!(decade_label(-2), "0.01");
        assert_eq!(decade_label(0), "1");
        assert_eq!(decade_label(2), "100");
        assert_eq!(decade_label(4), "10k");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(esc(r#"a<b>&"c""#), "a&lt;b&gt;&amp;&quot;c&quot;");
    }
}
