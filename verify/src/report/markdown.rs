//! Markdown evidence for auditors: the verdict, what was trusted, a table per check
//! with every finding (passes included: evidence of what was checked).

use std::fmt::Write;

use super::{sanitize, Report};

/// Escapes text for a Markdown table cell: control, bidi and zero-width characters
/// become visible `\u{..}` escapes ([`sanitize`]), so no line break ends the row and
/// nothing displays reversed; pipes, backticks, angle brackets and emphasis
/// characters lose their meaning.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in sanitize(s).chars() {
        match c {
            '|' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Escapes text for a code span inside a table cell: a backtick would end the span
/// (it becomes `'`), a pipe the cell (GFM reads `\|` as a pipe even in code spans).
fn code(s: &str) -> String {
    sanitize(s).replace('`', "'").replace('|', "\\|")
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Verification report: {}\n", cell(&r.image));
    let verdict = if r.trusted {
        "**TRUSTED**"
    } else {
        "**NOT TRUSTED**"
    };
    let _ = writeln!(
        out,
        "Verdict: {verdict} ({} pass, {} fail, {} error)\n",
        r.counts.pass, r.counts.fail, r.counts.error
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Tool | {} |", cell(&r.tool));
    let _ = writeln!(out, "| Image | {} |", cell(&r.image));
    let _ = writeln!(
        out,
        "| RPM database | {} |",
        cell(r.rpmdb.as_deref().unwrap_or("none found"))
    );
    let _ = writeln!(out, "| Packages | {} |", r.packages);
    let _ = writeln!(
        out,
        "| Policy | {} |",
        cell(r.policy.as_deref().unwrap_or("defaults"))
    );
    let _ = writeln!(out, "| Schema version | {} |\n", r.schema_version);
    if !r.trusted_keys.is_empty() {
        let _ = writeln!(out, "## Trusted keys\n\n| Role | Fingerprint | User id | Algorithm | Source |\n|---|---|---|---|---|");
        for k in &r.trusted_keys {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} |",
                cell(&k.role),
                code(&k.fingerprint),
                cell(&k.user_id),
                cell(&k.algorithm),
                cell(&k.source)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "## Summary\n\n| Check | Pass | Fail | Error |\n|---|---:|---:|---:|"
    );
    let per = r.per_check();
    for (check, c) in &per {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(check),
            c.pass,
            c.fail,
            c.error
        );
    }
    for (check, _) in &per {
        let _ = writeln!(
            out,
            "\n## {}\n\n| Subject | Status | Kind | Reason |\n|---|---|---|---|",
            cell(check)
        );
        for f in r.findings.iter().filter(|f| &f.check == check) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&f.subject.name),
                f.status.name().to_uppercase(),
                cell(&f.kind),
                cell(&f.reason)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_cannot_break_the_table() {
        let md = render(&super::super::tests::sample());
        assert!(md.contains("Verdict: **NOT TRUSTED**"));
        for line in md.lines().filter(|l| l.starts_with("| evil")) {
            // 4 columns -> exactly 5 unescaped pipes.
            let unescaped = line
                .match_indices('|')
                .filter(|(i, _)| *i == 0 || &line[i - 1..*i] != "\\")
                .count();
            assert_eq!(unescaped, 5, "{line}");
            assert!(!line.contains('\x1b') && !line.contains('\n'));
        }
    }
}
