//! RFC 7512 PKCS#11 URIs: `pkcs11:token=attest;object=release-key;type=private?pin-source=file:/run/pin`.
//!
//! Hand-written: the two crates that parse these are a single-author regex parser and one
//! that drags in a second, unmaintained PKCS#11 binding; the grammar is small.
//!
//! Fail closed: an attribute we do not know (including vendor `x-` ones), a repeated one,
//! or `module-name` (which needs a module search path we do not guess) is an error, never
//! ignored, because ignoring a selector could select a different key.
//! A `pin-value` never leaves this module in clear: [`Pkcs11Uri::redacted`] is what errors
//! and logs print.

use std::path::PathBuf;

use percent_encoding::percent_decode_str;
use zeroize::Zeroizing;

/// `type=`: which class of object the URI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    Private,
    Public,
    Cert,
    SecretKey,
    Data,
}

/// A parsed PKCS#11 URI. Text attributes are percent-decoded UTF-8; `id` is raw bytes.
#[derive(Clone, Default)]
pub struct Pkcs11Uri {
    pub token: Option<String>,
    pub manufacturer: Option<String>,
    pub serial: Option<String>,
    pub model: Option<String>,
    pub slot_id: Option<u64>,
    pub slot_description: Option<String>,
    pub slot_manufacturer: Option<String>,
    pub library_manufacturer: Option<String>,
    pub library_description: Option<String>,
    /// `library-version=M[.N]`.
    pub library_version: Option<(u8, u8)>,
    pub object: Option<String>,
    pub id: Option<Vec<u8>>,
    pub object_type: Option<ObjectType>,
    pub pin_value: Option<Zeroizing<String>>,
    pub pin_source: Option<String>,
    pub module_path: Option<PathBuf>,
    redacted: String,
}

impl std::fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Uri({})", self.redacted)
    }
}

impl std::fmt::Display for Pkcs11Uri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// Why a URI was refused; the message carries the redacted URI.
#[derive(Debug, thiserror::Error)]
#[error("invalid PKCS#11 URI {uri}: {reason}")]
pub struct UriError {
    pub uri: String,
    pub reason: String,
}

/// True when a `--key` argument is a PKCS#11 URI rather than a file name (the scheme is
/// case-insensitive, RFC 3986).
pub fn is_pkcs11_uri(s: &str) -> bool {
    s.len() >= 7 && s.as_bytes()[..7].eq_ignore_ascii_case(b"pkcs11:")
}

/// The URI with the value of every `pin-value` replaced, whatever else is wrong with it.
pub fn redact(s: &str) -> String {
    let Some((path, query)) = s.split_once('?') else {
        return s.to_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|a| match a.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("pin-value") => format!("{k}=REDACTED"),
            _ => a.to_owned(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

impl Pkcs11Uri {
    /// The URI as given, with any `pin-value` replaced by `REDACTED`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub fn parse(s: &str) -> Result<Self, UriError> {
        let redacted = redact(s);
        let fail = |reason: String| UriError {
            uri: redacted.clone(),
            reason,
        };
        if !is_pkcs11_uri(s) {
            return Err(fail("it does not start with 'pkcs11:'".into()));
        }
        let rest = &s[7..];
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut u = Pkcs11Uri {
            redacted: redacted.clone(),
            ..Default::default()
        };
        let mut seen: Vec<String> = Vec::new();
        let mut once = |name: &str| -> Result<(), UriError> {
            if seen.iter().any(|s| s == name) {
                return Err(fail(format!("attribute '{name}' appears twice")));
            }
            seen.push(name.to_owned());
            Ok(())
        };
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, raw) = attr
                .split_once('=')
                .ok_or_else(|| fail(format!("path attribute '{attr}' has no '='")))?;
            once(name)?;
            let bytes = decode(raw).map_err(&fail)?;
            let text = || {
                String::from_utf8(bytes.clone())
                    .map_err(|_| fail(format!("'{name}' is not UTF-8 after percent-decoding")))
            };
            match name {
                "token" => u.token = Some(text()?),
                "manufacturer" => u.manufacturer = Some(text()?),
                "serial" => u.serial = Some(text()?),
                "model" => u.model = Some(text()?),
                "object" => u.object = Some(text()?),
                "slot-description" => u.slot_description = Some(text()?),
                "slot-manufacturer" => u.slot_manufacturer = Some(text()?),
                "library-manufacturer" => u.library_manufacturer = Some(text()?),
                "library-description" => u.library_description = Some(text()?),
                "library-version" => {
                    let t = text()?;
                    let (maj, min) = t.split_once('.').unwrap_or((&t, "0"));
                    u.library_version = Some((
                        maj.parse()
                            .map_err(|_| fail(format!("library-version '{t}' is not M[.N]")))?,
                        min.parse()
                            .map_err(|_| fail(format!("library-version '{t}' is not M[.N]")))?,
                    ));
                }
                "slot-id" => {
                    let t = text()?;
                    u.slot_id = Some(t.parse().map_err(|_| {
                        fail(format!("slot-id '{t}' is not a decimal number"))
                    })?);
                }
                "id" => u.id = Some(bytes),
                "type" => {
                    u.object_type = Some(match text()?.as_str() {
                        "private" => ObjectType::Private,
                        "public" => ObjectType::Public,
                        "cert" => ObjectType::Cert,
                        "secret-key" => ObjectType::SecretKey,
                        "data" => ObjectType::Data,
                        other => {
                            return Err(fail(format!(
                                "type '{other}' is not private, public, cert, secret-key or data"
                            )))
                        }
                    })
                }
                other => {
                    return Err(fail(format!(
                        "unknown path attribute '{other}' (refused rather than ignored: it could select another key)"
                    )))
                }
            }
        }
        for attr in query.split('&').filter(|a| !a.is_empty()) {
            let (name, raw) = attr.split_once('=').ok_or_else(|| {
                fail(format!("query attribute '{}' has no '='", redact_one(attr)))
            })?;
            once(name)?;
            let bytes = Zeroizing::new(decode(raw).map_err(&fail)?);
            let text = || {
                std::str::from_utf8(&bytes)
                    .map(str::to_owned)
                    .map_err(|_| fail(format!("'{name}' is not UTF-8 after percent-decoding")))
            };
            match name {
                "pin-value" => u.pin_value = Some(Zeroizing::new(text()?)),
                "pin-source" => u.pin_source = Some(text()?),
                "module-path" => u.module_path = Some(PathBuf::from(text()?)),
                "module-name" => {
                    return Err(fail(
                        "module-name is not supported: give the module's file with module-path=, --pkcs11-module or ATTEST_PKCS11_MODULE".into(),
                    ))
                }
                other => {
                    return Err(fail(format!(
                        "unknown query attribute '{other}' (refused rather than ignored)"
                    )))
                }
            }
        }
        if u.pin_value.is_some() && u.pin_source.is_some() {
            return Err(fail("give pin-value or pin-source, not both".into()));
        }
        Ok(u)
    }
}

fn redact_one(attr: &str) -> &str {
    if attr.len() >= 9 && attr.as_bytes()[..9].eq_ignore_ascii_case(b"pin-value") {
        "pin-value"
    } else {
        attr
    }
}

/// Percent-decoding that refuses a `%` not followed by two hex digits (the `percent-encoding`
/// crate passes those through, which would let two spellings name different objects).
fn decode(raw: &str) -> Result<Vec<u8>, String> {
    let b = raw.as_bytes();
    for (i, _) in raw.match_indices('%') {
        let ok = b
            .get(i + 1..i + 3)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
        if !ok {
            return Err("a '%' is not followed by two hex digits".into());
        }
    }
    Ok(percent_decode_str(raw).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_attributes_we_select_by() {
        let u = Pkcs11Uri::parse(
            "pkcs11:token=attest;object=release%20key;id=%01%02;type=private;slot-id=7;serial=ab12?pin-source=file:/run/pin&module-path=/usr/lib/softhsm/libsofthsm2.so",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("attest"));
        assert_eq!(u.object.as_deref(), Some("release key"));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.object_type, Some(ObjectType::Private));
        assert_eq!(u.slot_id, Some(7));
        assert_eq!(u.serial.as_deref(), Some("ab12"));
        assert_eq!(u.pin_source.as_deref(), Some("file:/run/pin"));
        assert_eq!(
            u.module_path.as_deref(),
            Some(std::path::Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert!(Pkcs11Uri::parse("PKCS11:token=a").is_ok());
        assert!(Pkcs11Uri::parse("pkcs11:").is_ok());
        assert_eq!(
            Pkcs11Uri::parse("pkcs11:library-version=2.6")
                .unwrap()
                .library_version,
            Some((2, 6))
        );
    }

    #[test]
    fn pin_value_never_shows() {
        let u = Pkcs11Uri::parse("pkcs11:token=a?pin-value=s3cr%65t").unwrap();
        assert_eq!(u.pin_value.as_deref().map(String::as_str), Some("s3cret"));
        for shown in [u.to_string(), format!("{u:?}")] {
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(shown.contains("pin-value=REDACTED"), "{shown}");
        }
        // Also when the rest of the URI is wrong.
        for bad in [
            "pkcs11:bogus=1?pin-value=s3cret",
            "pkcs11:token=a?pin-value=s3cret&pin-value=s3cret",
            "pkcs11:token=%zz?pin-value=s3cret",
            "pkcs11:token=a?pin-value=s3cret&pin-source=/x",
        ] {
            let e = Pkcs11Uri::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn unknown_repeated_or_malformed_attributes_are_refused() {
        for (bad, why) in [
            ("file.pem", "does not start"),
            ("pkcs11:token=a;token=b", "twice"),
            ("pkcs11:x-vendor=1", "unknown path attribute"),
            ("pkcs11:tokn=a", "unknown path attribute"),
            ("pkcs11:token", "no '='"),
            ("pkcs11:type=secret", "type 'secret'"),
            ("pkcs11:slot-id=x", "slot-id"),
            ("pkcs11:id=%0", "two hex digits"),
            ("pkcs11:token=%ff", "UTF-8"),
            ("pkcs11:?module-name=softhsm2", "module-name"),
            ("pkcs11:?foo=bar", "unknown query attribute"),
        ] {
            let e = Pkcs11Uri::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
