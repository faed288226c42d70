//! The terminal summary: verdict, counts per check, then every finding that is not
//! a pass. Colour only when asked (the caller decides: a TTY and no `NO_COLOR`).
//! Every piece of text goes through [`sanitize`]: the only escape sequences in the
//! output are our own colours.

use std::fmt::Write;

use super::{sanitize, Report, Status};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// At most this many problems are listed; the rest are counted (the JSON has all).
const MAX_LISTED: usize = 200;

pub fn render(r: &Report, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        paint(BOLD, &format!("Image: {}", sanitize(&r.image)))
    );
    if let Some(db) = &r.rpmdb {
        let _ = writeln!(
            out,
            "  RPM database: {} ({} packages)",
            sanitize(db),
            r.packages
        );
    }
    if let Some(p) = &r.policy {
        let _ = writeln!(out, "  policy: {}", sanitize(p));
    }
    for k in &r.trusted_keys {
        let _ = writeln!(
            out,
            "  trusted {} key: {} {} ({})",
            sanitize(&k.role),
            sanitize(&k.fingerprint),
            sanitize(&k.user_id),
            sanitize(&k.algorithm)
        );
    }
    let _ = writeln!(out);
    for (check, c) in r.per_check() {
        let mark = if c.fail + c.error == 0 {
            paint(GREEN, "ok  ")
        } else {
            paint(RED, "FAIL")
        };
        let check = sanitize(&check);
        let _ = writeln!(
            out,
            "  {mark} {check:<22} {:>6} pass {:>6} fail {:>6} error",
            c.pass, c.fail, c.error
        );
    }
    let problems: Vec<_> = r.problems().collect();
    if !problems.is_empty() {
        let _ = writeln!(out);
    }
    for f in problems.iter().take(MAX_LISTED) {
        let status = match f.status {
            Status::Fail => paint(RED, "fail "),
            Status::Error => paint(YELLOW, "error"),
            Status::Pass => "pass ".to_string(),
        };
        let _ = writeln!(
            out,
            "  {status} {} {} [{}]: {}",
            sanitize(&f.check),
            sanitize(&f.subject.name),
            sanitize(&f.kind),
            sanitize(&f.reason)
        );
    }
    if problems.len() > MAX_LISTED {
        let _ = writeln!(
            out,
            "  ... and {} more (see --json)",
            problems.len() - MAX_LISTED
        );
    }
    let _ = writeln!(out);
    let verdict = if r.trusted {
        paint(GREEN, &format!("TRUSTED: {} checks passed", r.counts.pass))
    } else {
        paint(
            RED,
            &format!(
                "NOT TRUSTED: {} failed, {} errors, {} passed",
                r.counts.fail, r.counts.error, r.counts.pass
            ),
        )
    };
    let _ = writeln!(out, "{}", paint(BOLD, &verdict));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_escape_sequences_from_the_image_and_none_without_colour() {
        let r = super::super::tests::sample();
        let plain = render(&r, false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.contains("NOT TRUSTED: 1 failed, 1 errors, 1 passed"));
        let coloured = render(&r, true);
        assert!(coloured.contains(RED));
        assert!(
            !coloured.contains("\x1b[2J"),
            "image text must not reach the terminal raw"
        );
    }
}
