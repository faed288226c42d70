//! Layout parameter substitution, as in-toto's `substitute_parameters`: before a layout's
//! links are read, `{NAME}` in its steps' `expected_command` and artifact rules and in its
//! inspections' `run` and artifact rules becomes the caller's value for `NAME`.
//!
//! in-toto applies Python's `str.format(**parameters)`; this takes the subset a layout can
//! mean: `{NAME}` with `NAME` of `[A-Za-z0-9_-]` (in-toto's own rule for parameter names),
//! and `{{` / `}}` for literal braces. Everything Python would reject (an unknown name, a
//! lone brace, an empty or numeric field) is an error here too, and so are the field forms
//! no layout needs (`{a.b}`, `{a[0]}`, `{a!r}`, `{a:>8}`), which Python would evaluate.
//! Substitution happens only when parameters are given, as in in-toto; sublayouts get none.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parameter name in-toto accepts (`^[a-zA-Z0-9_-]+$`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// Substitutes `params` in place in a layout body (before it is parsed). Fields of the
/// wrong type are left alone for the layout parser to report.
pub fn substitute(body: &mut Value, params: &BTreeMap<String, String>) -> Result<(), String> {
    for (items, command) in [("steps", "expected_command"), ("inspect", "run")] {
        let Some(list) = body.get_mut(items).and_then(Value::as_array_mut) else {
            continue;
        };
        for (i, item) in list.iter_mut().enumerate() {
            let at = format!("{items}[{i}]");
            if let Some(argv) = item.get_mut(command).and_then(Value::as_array_mut) {
                strings(argv, &format!("{at}.{command}"), params)?;
            }
            for side in ["expected_materials", "expected_products"] {
                let Some(rules) = item.get_mut(side).and_then(Value::as_array_mut) else {
                    continue;
                };
                for (r, rule) in rules.iter_mut().enumerate() {
                    if let Some(stanzas) = rule.as_array_mut() {
                        strings(stanzas, &format!("{at}.{side}[{r}]"), params)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn strings(list: &mut [Value], at: &str, params: &BTreeMap<String, String>) -> Result<(), String> {
    for (k, v) in list.iter_mut().enumerate() {
        if let Value::String(s) = v {
            *s = format(s, params).map_err(|e| format!("{at}[{k}] {s:?}: {e}"))?;
        }
    }
    Ok(())
}

/// `str.format(**params)` for plain `{NAME}` fields and `{{`/`}}` escapes.
pub fn format(s: &str, params: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err("a single '}' (write '}}' for a literal brace)".into());
        }
        let Some(end) = tail.find('}') else {
            return Err("a '{' without its '}' (write '{{' for a literal brace)".into());
        };
        let name = &tail[1..end];
        if !valid_name(name) || name.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "field {{{name}}}: only {{NAME}} with NAME of letters, digits, '_' and '-' \
                 (not all digits) is substituted"
            ));
        }
        match params.get(name) {
            Some(value) => out.push_str(value),
            None => {
                return Err(format!(
                    "no value for parameter {name:?} (given: {:?})",
                    params.keys().collect::<Vec<_>>()
                ))
            }
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Expected values are what CPython 3.11's `str.format(**params)` returns (or that it
    /// raises) for the same string.
    #[test]
    fn format_agrees_with_python() {
        let params = p(&[("DIR", "repo"), ("a-b", "x"), ("_1", "{NOT}")]);
        let ok = [
            ("{DIR}/*", "repo/*"),
            ("plain", "plain"),
            ("{{DIR}}", "{DIR}"),
            ("}}{{", "}{"),
            ("{a-b}{_1}", "x{NOT}"),
            ("{{{DIR}}}", "{repo}"),
            ("", ""),
        ];
        for (s, want) in ok {
            assert_eq!(format(s, &params).as_deref(), Ok(want), "{s}");
        }
        // Python raises KeyError, ValueError ("Single '}'", "expected '}'"), IndexError or
        // AttributeError on these, except the last three, which it evaluates (an index, a
        // repr, a format spec): refused here all the same.
        for s in [
            "{MISSING}",
            "}",
            "{",
            "{DIR",
            "{}",
            "{0}",
            "{DIR.x}",
            "a}b",
            "{DIR[0]}",
            "{DIR!r}",
            "{DIR:>8}",
        ] {
            assert!(format(s, &params).is_err(), "{s}");
        }
    }

    #[test]
    fn only_commands_and_rules_are_substituted() {
        let mut body = serde_json::json!({
            "_type": "layout",
            "readme": "{DIR}",
            "steps": [{"name": "{DIR}", "expected_command": ["ls", "{DIR}"],
                       "expected_materials": [["MATCH", "{DIR}/*", "WITH", "PRODUCTS", "FROM", "a"]],
                       "expected_products": "not a list"}],
            "inspect": [{"name": "i", "run": ["{DIR}"], "expected_products": [["ALLOW", "{DIR}"]]}]
        });
        let original = body.clone();
        substitute(&mut body, &p(&[("DIR", "repo")])).unwrap();
        assert_eq!(body["readme"], "{DIR}");
        assert_eq!(body["steps"][0]["name"], "{DIR}");
        assert_eq!(body["steps"][0]["expected_command"][1], "repo");
        assert_eq!(body["steps"][0]["expected_materials"][0][1], "repo/*");
        assert_eq!(body["inspect"][0]["run"][0], "repo");
        assert_eq!(body["inspect"][0]["expected_products"][0][1], "repo");
        let e = substitute(&mut original.clone(), &p(&[])).unwrap_err();
        assert!(e.starts_with("steps[0].expected_command[1]"), "{e}");
    }
}
