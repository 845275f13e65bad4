//! The validation report: a table for the terminal, JSON, and a self-contained HTML page.

use serde::Serialize;

use super::{CaseResult, SkippedCase, StaticResult};

/// Everything `wgconv validate` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Adapter descriptions (one per adapter validated).
    pub adapters: Vec<String>,
    /// Static translations.
    pub static_results: Vec<StaticResult>,
    /// Dynamic cases, all adapters.
    pub cases: Vec<CaseResult>,
    /// Cases an adapter could not run, with the reason (not failures).
    pub skipped: Vec<SkippedCase>,
    /// Model bisection lines, if a model was given.
    pub bisection: Vec<String>,
    /// Adapters that could not be opened, with the reason.
    pub adapter_errors: Vec<String>,
    /// The shader-checks mode the devices ran under, and the kernels it left unchecked.
    pub shader_checks: String,
}

impl Report {
    /// True when nothing failed.
    pub fn passed(&self) -> bool {
        self.static_results.iter().all(|s| s.error.is_none())
            && self.cases.iter().all(|c| c.passed)
            && self.adapter_errors.is_empty()
            && self.bisection.iter().all(|b| !b.starts_with("FAIL"))
    }

    /// A plain-text summary table.
    pub fn table(&self) -> String {
        let mut s = format!("shader checks: {}\n", self.shader_checks);
        let static_fail: Vec<_> = self
            .static_results
            .iter()
            .filter(|r| r.error.is_some())
            .collect();
        s += &format!(
            "static: {} translations, {} failed\n",
            self.static_results.len(),
            static_fail.len()
        );
        for r in static_fail {
            s += &format!(
                "  FAIL {} [{}] -> {}: {}\n",
                r.shader,
                r.constants,
                r.target,
                r.error.as_deref().unwrap_or("")
            );
        }
        for e in &self.adapter_errors {
            s += &format!("adapter error: {e}\n");
        }
        for a in &self.adapters {
            s += &format!("\nadapter: {a}\n");
            s += &format!(
                "{:<5} {:<16} {:<58} {:>10} {:>10} {:>8}\n",
                "", "family", "case", "max abs", "max rel", "max ulp"
            );
            for c in self.cases.iter().filter(|c| &c.adapter == a) {
                s += &format!(
                    "{:<5} {:<16} {:<58} {:>10.2e} {:>10.2e} {:>8}\n",
                    if c.passed { "ok" } else { "FAIL" },
                    c.family,
                    truncate(&c.case, 58),
                    c.max_abs,
                    c.max_rel,
                    c.max_ulp
                );
                if let Some(d) = c.detail.as_ref().filter(|_| !c.passed) {
                    s += &format!("      {d}\n");
                }
            }
            for c in self.skipped.iter().filter(|c| &c.adapter == a) {
                s += &format!(
                    "{:<5} {:<16} {:<58} {}\n",
                    "skip",
                    c.family,
                    truncate(&c.case, 58),
                    c.reason
                );
            }
        }
        if !self.bisection.is_empty() {
            s += "\nmodel bisection:\n";
            for b in &self.bisection {
                s += &format!("  {b}\n");
            }
        }
        let failed = self.cases.iter().filter(|c| !c.passed).count()
            + self
                .bisection
                .iter()
                .filter(|b| b.starts_with("FAIL"))
                .count();
        s += &format!(
            "\n{} passed, {} failed, {} skipped\n",
            self.cases.len() - failed
                + self
                    .static_results
                    .iter()
                    .filter(|r| r.error.is_none())
                    .count(),
            failed
                + self
                    .static_results
                    .iter()
                    .filter(|r| r.error.is_some())
                    .count(),
            self.skipped.len()
        );
        s
    }

    /// A self-contained HTML page: adapters at the top, the family x adapter matrix coloured by
    /// result, then every case and every static translation.
    pub fn html(&self) -> String {
        let mut h = String::from(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>wgconv validate</title><style>\
             body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}\
             td,th{border:1px solid #999;padding:3px 8px;font-size:13px}.ok{background:#c8f0c8}\
             .fail{background:#f5b5b5}.na{background:#eee}code{font-size:12px}</style></head><body>",
        );
        h += &format!(
            "<h1>wgconv validate: {}</h1><h2>Adapters</h2><ul>",
            if self.passed() {
                "all passed"
            } else {
                "FAILURES"
            }
        );
        for a in &self.adapters {
            h += &format!("<li>{}</li>", esc(a));
        }
        for e in &self.adapter_errors {
            h += &format!("<li class=\"fail\">{}</li>", esc(e));
        }
        h += "</ul><h2>Kernel families &times; adapters</h2><table><tr><th>family</th>";
        for a in &self.adapters {
            h += &format!("<th>{}</th>", esc(a));
        }
        h += "</tr>";
        let mut families: Vec<&str> = self.cases.iter().map(|c| c.family.as_str()).collect();
        families.dedup();
        families.sort();
        families.dedup();
        for f in families {
            h += &format!("<tr><td>{}</td>", esc(f));
            for a in &self.adapters {
                let cs: Vec<_> = self
                    .cases
                    .iter()
                    .filter(|c| c.family == f && &c.adapter == a)
                    .collect();
                let bad = cs.iter().filter(|c| !c.passed).count();
                let (class, text) = match (cs.len(), bad) {
                    (0, _) => ("na", "-".to_string()),
                    (n, 0) => ("ok", format!("{n}/{n}")),
                    (n, b) => ("fail", format!("{}/{n}", n - b)),
                };
                h += &format!("<td class=\"{class}\">{text}</td>");
            }
            h += "</tr>";
        }
        h += "</table><h2>Cases</h2><table><tr><th>adapter</th><th>family</th><th>case</th><th>result</th>\
              <th>max abs</th><th>max rel</th><th>max ulp</th><th>tolerance</th><th>detail</th></tr>";
        for c in &self.cases {
            h += &format!(
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2e}</td><td>{:.2e}</td><td>{}</td>\
                 <td>atol {:.1e}, rtol {:.1e}</td><td>{}</td></tr>",
                if c.passed { "ok" } else { "fail" },
                esc(&c.adapter),
                esc(&c.family),
                esc(&c.case),
                if c.passed { "pass" } else { "FAIL" },
                c.max_abs,
                c.max_rel,
                c.max_ulp,
                c.atol,
                c.rtol,
                esc(c.detail.as_deref().unwrap_or(""))
            );
        }
        for c in &self.skipped {
            h += &format!(
                "<tr class=\"na\"><td>{}</td><td>{}</td><td>{}</td><td>skipped</td>\
                 <td></td><td></td><td></td><td></td><td>{}</td></tr>",
                esc(&c.adapter),
                esc(&c.family),
                esc(&c.case),
                esc(&c.reason)
            );
        }
        h += "</table>";
        if !self.bisection.is_empty() {
            h += "<h2>Model bisection</h2><pre>";
            for b in &self.bisection {
                h += &esc(b);
                h += "\n";
            }
            h += "</pre>";
        }
        h += "<h2>Static translation (naga)</h2><table><tr><th>shader</th><th>overrides</th><th>target</th><th>result</th></tr>";
        for r in &self.static_results {
            h += &format!(
                "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                if r.error.is_none() { "ok" } else { "fail" },
                esc(&r.shader),
                esc(if r.constants.is_empty() {
                    "(defaults)"
                } else {
                    &r.constants
                }),
                esc(&r.target),
                esc(r.error.as_deref().unwrap_or("ok"))
            );
        }
        h += "</table></body></html>\n";
        h
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
