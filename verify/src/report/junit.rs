//! JUnit XML for CI systems: one `<testsuite>` per check, one `<testcase>` per
//! finding (`<failure>` for fail, `<error>` for error). Every piece of text is
//! escaped, and characters XML 1.0 cannot carry are replaced by U+FFFD.

use std::fmt::Write;

use super::{Report, Status};

/// Escapes text for XML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

pub fn render(r: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"verify {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        esc(&r.image),
        r.findings.len(),
        r.counts.fail,
        r.counts.error
    );
    for (check, c) in r.per_check() {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\">",
            esc(&check),
            c.pass + c.fail + c.error,
            c.fail,
            c.error
        );
        for f in r.findings.iter().filter(|f| f.check == check) {
            let open = format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                esc(&f.check),
                esc(&f.subject.name)
            );
            match f.status {
                Status::Pass => {
                    let _ = writeln!(out, "{open}/>");
                }
                Status::Fail | Status::Error => {
                    let el = if f.status == Status::Fail {
                        "failure"
                    } else {
                        "error"
                    };
                    let _ = writeln!(out, "{open}>");
                    let _ = writeln!(
                        out,
                        "      <{el} type=\"{}\" message=\"{}\">{}</{el}>",
                        esc(&f.kind),
                        esc(&f.reason),
                        esc(&f.reason)
                    );
                    let _ = writeln!(out, "    </testcase>");
                }
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::events::Event;

    #[test]
    fn well_formed_with_hostile_names() {
        let xml = render(&super::super::tests::sample());
        let mut reader = quick_xml::Reader::from_str(&xml);
        // quick-xml checks that every end tag matches its start tag.
        let (mut cases, mut failures, mut errors) = (0, 0, 0);
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Eof => break,
                Event::Start(e) => match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    b"error" => errors += 1,
                    _ => {}
                },
                Event::Empty(e) if e.name().as_ref() == b"testcase" => cases += 1,
                _ => {}
            }
        }
        assert_eq!((cases, failures, errors), (3, 1, 1));
        assert!(!xml.contains('\x1b'));
    }
}
