//! Reading in-toto metadata: the two signed forms, signature checks with in-toto key ids,
//! securesystemslib key objects, and the layout and link objects.
//!
//! Forms (as in-toto 3.x's `Metadata.from_dict` tells them apart): a document with
//! `payload` is a DSSE envelope and must have payload type `application/vnd.in-toto+json`
//! (its signatures cover the PAE of the exact payload bytes); otherwise it must be a
//! Metablock `{"signed", "signatures"}` whose signatures cover the canonical JSON of
//! `signed`. A signature counts for key id K only if it is labelled K: in a Metablock only
//! the first signature labelled K is tried, and a DSSE envelope may not label two
//! signatures alike (both as in-toto).
//!
//! Parsing walks the JSON by hand so that every error names the field (`steps[2].threshold`)
//! rather than a position in a re-serialized value; absent optional fields take in-toto's
//! defaults; unknown fields are ignored, as in-toto ignores them (they are still covered
//! by the signature, which is over the document as written).

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use attest::dsse::{Envelope, INTOTO_PAYLOAD_TYPE};
use attest::keys::{KeyType, PublicKey, RsaPadding};
use serde_json::{Map, Value};

use super::rules::{self, Rule};

/// A layout larger than this is refused (a real one is a few kilobytes).
pub const LAYOUT_MAX_BYTES: u64 = 16 << 20;
/// A link larger than this is refused (a root filesystem of 200k files is ~40 MB).
pub const LINK_MAX_BYTES: u64 = 512 << 20;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    NotFound,
    Other(String),
}

/// Reads a regular file of at most `limit` bytes. Not a regular file (a FIFO would block
/// forever, a directory cannot be read) is an error: the file is opened without blocking
/// and its type taken from the open descriptor, so a path swapped for a FIFO after a
/// check cannot block us either.
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let other = |e: std::io::Error| ReadError::Other(format!("{}: {e}", path.display()));
    let f = match crate::attestation::open::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::NotFound),
        Err(e) => return Err(other(e)),
    };
    let mut bytes = Vec::new();
    f.take(limit + 1).read_to_end(&mut bytes).map_err(other)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::Other(format!(
            "{}: larger than the {limit}-byte limit",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Most signatures a layout or link may carry (in-toto metadata has one per owner or
/// functionary, a handful); more is refused before any is looked at.
pub const MAX_SIGNATURES: usize = 64;

/// Most memory the JSON of one layout or link may take once parsed, estimated by
/// [`json_footprint`] before it is parsed. The metadata is read into a `serde_json::Value`
/// (the signatures of a Metablock are over the canonical form of the parsed `signed`),
/// which costs 80 bytes per value and more per list element and object member: `[0,0,...]`
/// would take 40 times its size, before any signature is checked. The estimate is about
/// twice the real cost of such hostile JSON and close to that of a real link (530 bytes
/// estimated per recorded file, 680 real): this admits links of about 2 million files
/// (some 300 MB), and hostile JSON that would take about 500 MB.
pub const MAX_JSON_FOOTPRINT: u64 = 1 << 30;

/// Estimated bytes of a `serde_json::Value` of `bytes`: per value its 80-byte slot, per
/// list element 80 more (a growing vector's spare capacity), per object member 128 plus
/// its key (an ordered map's entry, index and spare capacity), per string its bytes. The
/// scan keeps nothing and stops with an error as soon as the estimate passes `limit`.
/// Syntax errors are serde_json's.
fn json_footprint(bytes: &[u8], limit: u64) -> Result<u64, serde_json::Error> {
    use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};
    use std::cell::Cell;

    const VALUE: u64 = 80;
    const ELEMENT: u64 = 80;
    const MEMBER: u64 = 128;

    #[derive(Clone, Copy)]
    struct Scan<'c> {
        total: &'c Cell<u64>,
        limit: u64,
    }
    impl Scan<'_> {
        fn add<E: Error>(self, n: u64) -> Result<(), E> {
            let t = self.total.get().saturating_add(n);
            self.total.set(t);
            if t > self.limit {
                return Err(E::custom(format!(
                    "would take more than {} bytes of memory once parsed (estimated)",
                    self.limit
                )));
            }
            Ok(())
        }
    }
    impl<'de> DeserializeSeed<'de> for Scan<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Scan<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: Error>(self, _: bool) -> Result<(), E> {
            self.add(VALUE)
        }
        fn visit_i64<E: Error>(self, _: i64) -> Result<(), E> {
            self.add(VALUE)
        }
        fn visit_u64<E: Error>(self, _: u64) -> Result<(), E> {
            self.add(VALUE)
        }
        fn visit_f64<E: Error>(self, _: f64) -> Result<(), E> {
            self.add(VALUE)
        }
        fn visit_unit<E: Error>(self) -> Result<(), E> {
            self.add(VALUE)
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<(), E> {
            self.add(VALUE + v.len() as u64)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
            self.add(VALUE)?;
            while s.next_element_seed(self)?.is_some() {
                self.add(ELEMENT)?;
            }
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            self.add(VALUE)?;
            while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                self.add(MEMBER + k.len() as u64)?;
                m.next_value_seed(self)?;
            }
            Ok(())
        }
    }
    let total = Cell::new(0);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Scan {
        total: &total,
        limit,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(total.get())
}

/// `bytes` parsed as JSON, refused unparsed if it would take too much memory.
fn bounded_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    json_footprint(bytes, MAX_JSON_FOOTPRINT)?;
    serde_json::from_slice(bytes)
}

/// At most this many characters of a key id from the metadata go into a message.
const KEYID_SHOWN: usize = 80;

fn clip(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(KEYID_SHOWN) {
        None => s.into(),
        Some((at, _)) => format!("{}... ({} bytes)", &s[..at], s.len()).into(),
    }
}

/// The key ids of a document's signatures, for messages: `{:?}` shows the first
/// [`KEYIDS_SHOWN`], each clipped, and counts the rest.
pub struct KeyIds<'a>(Vec<&'a str>);

/// Key ids a message shows.
pub const KEYIDS_SHOWN: usize = 8;

impl std::fmt::Debug for KeyIds<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut l = f.debug_list();
        for k in self.0.iter().take(KEYIDS_SHOWN) {
            l.entry(&clip(k));
        }
        if self.0.len() > KEYIDS_SHOWN {
            l.entry(&format_args!("and {} more", self.0.len() - KEYIDS_SHOWN));
        }
        l.finish()
    }
}

/// Which signed form a document had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Metablock,
    Dsse,
}

impl Form {
    pub fn name(self) -> &'static str {
        match self {
            Form::Metablock => "Metablock",
            Form::Dsse => "DSSE",
        }
    }
}

#[derive(Debug)]
struct Sig {
    keyid: String,
    sig: Vec<u8>,
}

/// A signed document: its body and what its signatures cover.
#[derive(Debug)]
pub struct Signed {
    pub form: Form,
    pub body: Value,
    sigs: Vec<Sig>,
    /// The exact bytes the signatures are over.
    message: Vec<u8>,
}

/// Outcome of checking one key against a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigCheck {
    Valid,
    /// No signature is labelled with the key id.
    Missing,
    /// The signature labelled with the key id does not verify.
    Invalid,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses either signed form. Errors say what is wrong, without the file name.
pub fn parse_signed(bytes: &[u8]) -> Result<Signed, String> {
    let doc: Value = bounded_json(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let m = doc.as_object().ok_or("not a JSON object")?;
    if let Some(n) = m
        .get("signatures")
        .and_then(Value::as_array)
        .map(Vec::len)
        .filter(|&n| n > MAX_SIGNATURES)
    {
        return Err(format!(
            "{n} signatures; at most {MAX_SIGNATURES} are accepted"
        ));
    }
    if m.contains_key("payload") {
        if m.get("payloadType").and_then(Value::as_str) != Some(INTOTO_PAYLOAD_TYPE) {
            return Err(format!(
                "a DSSE envelope whose payloadType is not {INTOTO_PAYLOAD_TYPE}"
            ));
        }
        let env = Envelope::from_json_value(&doc, "envelope").map_err(|e| e.to_string())?;
        let mut sigs: Vec<Sig> = Vec::with_capacity(env.signatures.len());
        let mut seen: HashSet<&str> = HashSet::with_capacity(env.signatures.len());
        for (i, s) in env.signatures.iter().enumerate() {
            let keyid = s
                .keyid
                .as_deref()
                .ok_or_else(|| format!("signatures[{i}] has no keyid"))?;
            if !seen.insert(keyid) {
                return Err(format!("two signatures with keyid {}", clip(keyid)));
            }
            sigs.push(Sig {
                keyid: keyid.to_owned(),
                sig: s.sig.clone(),
            });
        }
        let body: Value =
            bounded_json(&env.payload).map_err(|e| format!("DSSE payload is not JSON: {e}"))?;
        return Ok(Signed {
            form: Form::Dsse,
            body,
            sigs,
            message: env.pae(),
        });
    }
    // Owned from here on: a link can be tens of megabytes, so the body is moved, not copied.
    let Value::Object(mut m) = doc else {
        return Err("not a JSON object".into());
    };
    let body = m
        .remove("signed")
        .ok_or("neither a DSSE envelope (payload) nor a Metablock (signed)")?;
    let list = m
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or("signatures: expected a list")?;
    let mut sigs = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let field = |k: &str| {
            s.get(k).and_then(Value::as_str).filter(|v| is_hex(v)).ok_or_else(|| {
                format!("signatures[{i}].{k}: expected a hex string (GPG signatures are not supported)")
            })
        };
        let keyid = field("keyid")?.to_owned();
        let sig = hex::decode(field("sig")?)
            .map_err(|_| format!("signatures[{i}].sig: odd number of hex digits"))?;
        sigs.push(Sig { keyid, sig });
    }
    let message = attest::canonical::to_vec(&body).map_err(|e| format!("signed: {e}"))?;
    Ok(Signed {
        form: Form::Metablock,
        body,
        sigs,
        message,
    })
}

impl Signed {
    /// Checks the signature labelled `keyid` with `key`. RSA is PSS: the only RSA scheme
    /// we accept is `rsassa-pss-sha256`.
    pub fn check(&self, keyid: &str, key: &PublicKey) -> SigCheck {
        // Metablock: only the first labelled signature counts; DSSE labels are unique.
        match self.sigs.iter().find(|s| s.keyid == keyid) {
            None => SigCheck::Missing,
            Some(s) if key.verify(&self.message, &s.sig, RsaPadding::Pss) => SigCheck::Valid,
            Some(_) => SigCheck::Invalid,
        }
    }

    /// The key ids the signatures are labelled with, for messages (shown capped).
    pub fn keyids(&self) -> KeyIds<'_> {
        KeyIds(self.sigs.iter().map(|s| s.keyid.as_str()).collect())
    }

    /// The body's `_type`, if it is a string.
    pub fn body_type(&self) -> Option<&str> {
        self.body.get("_type").and_then(Value::as_str)
    }
}

/// DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// A securesystemslib public key object (from a layout's `keys`) as a key we can verify
/// with. Schemes: `ed25519`, `ecdsa-sha2-nistp256`, `rsassa-pss-sha256`; others are
/// unsupported (an error naming the scheme).
pub fn key_from_object(keyid: &str, obj: &Value) -> Result<PublicKey, String> {
    let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or_default();
    let public = obj
        .get("keyval")
        .and_then(|v| v.get("public"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let origin = Path::new(keyid);
    let (keytype, scheme) = (s("keytype"), s("scheme"));
    let (key, want) = match (keytype, scheme) {
        ("ed25519", "ed25519") => {
            let raw = hex::decode(public)
                .ok()
                .filter(|r| r.len() == 32)
                .ok_or("ed25519 keyval.public: expected 64 hex digits")?;
            let mut der = ED25519_SPKI_PREFIX.to_vec();
            der.extend_from_slice(&raw);
            (PublicKey::from_spki_der(&der, origin), KeyType::Ed25519)
        }
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            (PublicKey::from_pem(public, origin), KeyType::EcdsaP256)
        }
        ("rsa", "rsassa-pss-sha256") => (PublicKey::from_pem(public, origin), KeyType::Rsa),
        _ => {
            return Err(format!(
                "unsupported key type/scheme {keytype:?}/{scheme:?} (supported: ed25519, \
                 ecdsa-sha2-nistp256, rsassa-pss-sha256)"
            ))
        }
    };
    let key = key.map_err(|e| e.to_string())?;
    if key.kind() != want {
        return Err(format!(
            "keyval.public is a {} key, the key object says {keytype:?}",
            key.kind().name()
        ));
    }
    Ok(key)
}

/// A hash dictionary per artifact path.
pub type Artifacts = BTreeMap<String, BTreeMap<String, String>>;

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub threshold: usize,
    /// Authorized functionary key ids, duplicates removed, in layout order.
    pub pubkeys: Vec<String>,
    pub expected_command: Vec<String>,
    pub expected_materials: Vec<Rule>,
    pub expected_products: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Inspection {
    pub name: String,
    pub run: Vec<String>,
    pub expected_materials: Vec<Rule>,
    pub expected_products: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub expires: String,
    pub expires_unix: i64,
    /// Key id -> key object (structure checked; converted when a link needs it).
    pub keys: BTreeMap<String, Value>,
    pub steps: Vec<Step>,
    pub inspections: Vec<Inspection>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub materials: Artifacts,
    pub products: Artifacts,
    pub command: Vec<String>,
}

fn obj<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{at}: expected an object, found {}", type_name(v)))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn string(v: &Value, at: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{at}: expected a string, found {}", type_name(v)))
}

fn strings(v: &Value, at: &str) -> Result<Vec<String>, String> {
    let a = v
        .as_array()
        .ok_or_else(|| format!("{at}: expected a list, found {}", type_name(v)))?;
    a.iter()
        .enumerate()
        .map(|(i, x)| string(x, &format!("{at}[{i}]")))
        .collect()
}

fn required<'a>(m: &'a Map<String, Value>, at: &str, k: &str) -> Result<&'a Value, String> {
    m.get(k).ok_or_else(|| format!("{at}: no {k:?}"))
}

fn check_type(m: &Map<String, Value>, at: &str, want: &str) -> Result<(), String> {
    match m.get("_type").and_then(Value::as_str) {
        Some(t) if t == want => Ok(()),
        other => Err(format!("{at}._type: expected {want:?}, found {other:?}")),
    }
}

fn rule_list(m: &Map<String, Value>, at: &str, k: &str) -> Result<Vec<Rule>, String> {
    let Some(v) = m.get(k) else {
        return Ok(Vec::new());
    };
    let at = format!("{at}.{k}");
    let a = v
        .as_array()
        .ok_or_else(|| format!("{at}: expected a list of rules, found {}", type_name(v)))?;
    a.iter()
        .enumerate()
        .map(|(i, r)| {
            let at = format!("{at}[{i}]");
            rules::parse(strings(r, &at)?).map_err(|e| format!("{at}: {e}"))
        })
        .collect()
}

/// An item name becomes part of a link file name: no `/`, no NUL, not empty.
fn item_name(m: &Map<String, Value>, at: &str) -> Result<String, String> {
    let name = string(required(m, at, "name")?, &format!("{at}.name"))?;
    if name.is_empty() || name.contains(['/', '\0']) {
        return Err(format!(
            "{at}.name {name:?}: must be non-empty, without '/' or NUL (it names link files)"
        ));
    }
    Ok(name)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (the only form in-toto accepts) as Unix seconds.
pub fn parse_expires(s: &str) -> Result<i64, String> {
    let b = s.as_bytes();
    let shape = b.len() == 20
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape {
        return Err(format!("expires {s:?}: expected YYYY-MM-DDTHH:MM:SSZ"));
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|e| format!("expires {s:?}: {e}"))
}

fn parse_key_object(keyid: &str, v: &Value, at: &str) -> Result<(), String> {
    let m = obj(v, at)?;
    if !is_hex(keyid) {
        return Err(format!("{at}: key id is not a hex string"));
    }
    let inner = string(required(m, at, "keyid")?, &format!("{at}.keyid"))?;
    if inner != keyid {
        return Err(format!("{at}.keyid {inner:?} differs from its key id"));
    }
    string(required(m, at, "keytype")?, &format!("{at}.keytype"))?;
    string(required(m, at, "scheme")?, &format!("{at}.scheme"))?;
    let keyval = obj(required(m, at, "keyval")?, &format!("{at}.keyval"))?;
    string(
        required(keyval, &format!("{at}.keyval"), "public")?,
        &format!("{at}.keyval.public"),
    )?;
    Ok(())
}

/// Parses and checks a layout body. Every name is unique across steps and inspections;
/// thresholds are at least 1; key ids are hex.
pub fn parse_layout(body: &Value) -> Result<Layout, String> {
    let m = obj(body, "layout")?;
    check_type(m, "layout", "layout")?;
    let expires = string(required(m, "layout", "expires")?, "layout.expires")?;
    let expires_unix = parse_expires(&expires)?;
    if let Some(r) = m.get("readme") {
        string(r, "layout.readme")?;
    }
    let mut keys = BTreeMap::new();
    for (id, k) in obj(required(m, "layout", "keys")?, "layout.keys")? {
        let at = format!("layout.keys[{id:?}]");
        parse_key_object(id, k, &at)?;
        keys.insert(id.clone(), k.clone());
    }
    let mut names: Vec<String> = Vec::new();
    let mut unique = |name: &str, at: &str| {
        if names.iter().any(|n| n == name) {
            return Err(format!("{at}.name {name:?}: used twice"));
        }
        names.push(name.to_owned());
        Ok(())
    };
    let step_list = required(m, "layout", "steps")?
        .as_array()
        .ok_or("layout.steps: expected a list")?;
    let mut steps = Vec::with_capacity(step_list.len());
    for (i, s) in step_list.iter().enumerate() {
        let at = format!("steps[{i}]");
        let sm = obj(s, &at)?;
        check_type(sm, &at, "step")?;
        let name = item_name(sm, &at)?;
        unique(&name, &at)?;
        let threshold = match sm.get("threshold") {
            None => 1,
            Some(t) => t
                .as_u64()
                .filter(|&t| t >= 1)
                .and_then(|t| usize::try_from(t).ok())
                .ok_or_else(|| format!("{at}.threshold: expected a positive integer, found {t}"))?,
        };
        let mut pubkeys: Vec<String> = Vec::new();
        if let Some(p) = sm.get("pubkeys") {
            for (j, k) in strings(p, &format!("{at}.pubkeys"))?
                .into_iter()
                .enumerate()
            {
                if !is_hex(&k) {
                    return Err(format!("{at}.pubkeys[{j}]: not a hex key id"));
                }
                if !pubkeys.contains(&k) {
                    pubkeys.push(k);
                }
            }
        }
        let expected_command = match sm.get("expected_command") {
            None => Vec::new(),
            Some(c) => strings(c, &format!("{at}.expected_command"))?,
        };
        steps.push(Step {
            expected_materials: rule_list(sm, &at, "expected_materials")?,
            expected_products: rule_list(sm, &at, "expected_products")?,
            name,
            threshold,
            pubkeys,
            expected_command,
        });
    }
    let mut inspections = Vec::new();
    if let Some(list) = m.get("inspect") {
        let list = list.as_array().ok_or("layout.inspect: expected a list")?;
        for (i, s) in list.iter().enumerate() {
            let at = format!("inspect[{i}]");
            let sm = obj(s, &at)?;
            check_type(sm, &at, "inspection")?;
            let name = item_name(sm, &at)?;
            unique(&name, &at)?;
            let run = match sm.get("run") {
                None => Vec::new(),
                Some(r) => strings(r, &format!("{at}.run"))?,
            };
            if run.is_empty() {
                return Err(format!("{at}.run: empty command"));
            }
            inspections.push(Inspection {
                expected_materials: rule_list(sm, &at, "expected_materials")?,
                expected_products: rule_list(sm, &at, "expected_products")?,
                name,
                run,
            });
        }
    }
    Ok(Layout {
        expires,
        expires_unix,
        keys,
        steps,
        inspections,
    })
}

/// Moves the artifacts out of the link object (error messages are built only on error:
/// a root filesystem has hundreds of thousands of artifacts).
fn artifacts(m: &mut Map<String, Value>, k: &str) -> Result<Artifacts, String> {
    let mut out = Artifacts::new();
    let Some(v) = m.remove(k) else {
        return Ok(out);
    };
    let Value::Object(list) = v else {
        return Err(format!(
            "link.{k}: expected an object, found {}",
            type_name(&v)
        ));
    };
    for (path, h) in list {
        let Value::Object(h) = h else {
            return Err(format!(
                "link.{k}[{path:?}]: expected an object, found {}",
                type_name(&h)
            ));
        };
        let mut hashes = BTreeMap::new();
        for (alg, d) in h {
            match d {
                Value::String(d) if is_hex(&d) => {
                    hashes.insert(alg, d);
                }
                other => {
                    return Err(format!(
                        "link.{k}[{path:?}].{alg}: expected a hex digest, found {}",
                        match &other {
                            Value::String(s) => format!("{s:?}"),
                            v => type_name(v).to_owned(),
                        }
                    ))
                }
            }
        }
        out.insert(path, hashes);
    }
    Ok(out)
}

/// Parses a link body (consumed: its artifacts are moved into the result).
pub fn parse_link(body: Value) -> Result<Link, String> {
    let Value::Object(mut m) = body else {
        return Err(format!(
            "link: expected an object, found {}",
            type_name(&body)
        ));
    };
    check_type(&m, "link", "link")?;
    let name = string(required(&m, "link", "name")?, "link.name")?;
    let command = match m.get("command") {
        None => Vec::new(),
        Some(c) => strings(c, "link.command")?,
    };
    for k in ["byproducts", "environment"] {
        if let Some(v) = m.get(k) {
            obj(v, &format!("link.{k}"))?;
        }
    }
    Ok(Link {
        materials: artifacts(&mut m, "materials")?,
        products: artifacts(&mut m, "products")?,
        name,
        command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expires_only_in_in_totos_form() {
        assert_eq!(parse_expires("2027-01-01T00:00:00Z"), Ok(1798761600));
        for bad in [
            "2027-01-01T00:00:00",
            "2027-01-01T00:00:00+00:00",
            "2027-02-30T00:00:00Z",
            "２027-01-01T00:00:00Z",
            "",
        ] {
            assert!(parse_expires(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn layout_errors_name_the_field() {
        let good = json!({"_type": "layout", "expires": "2027-01-01T00:00:00Z", "keys": {},
            "steps": [{"_type": "step", "name": "a", "threshold": 1, "pubkeys": ["ab"]}]});
        parse_layout(&good).unwrap();
        let cases = [
            ("/steps/0/threshold", json!("1"), "steps[0].threshold"),
            ("/steps/0/threshold", json!(0), "steps[0].threshold"),
            ("/steps/0/threshold", json!(1e300), "steps[0].threshold"),
            ("/steps/0/pubkeys", json!(["zz"]), "steps[0].pubkeys[0]"),
            ("/steps/0/name", json!("../x/y"), "steps[0].name"),
            (
                "/steps/0/expected_products",
                json!([["EAT", "x"]]),
                "steps[0].expected_products[0]",
            ),
            ("/expires", json!(17), "layout.expires"),
            (
                "/keys",
                json!({"ab": {"keyid": "cd"}}),
                "layout.keys[\"ab\"].keyid",
            ),
            ("/_type", json!("link"), "layout._type"),
        ];
        for (ptr, val, want) in cases {
            let mut v = good.clone();
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            v.pointer_mut(parent).unwrap()[key] = val;
            let e = parse_layout(&v).unwrap_err();
            assert!(e.contains(want), "{ptr}: {e}");
        }
        let mut dup = good.clone();
        dup["steps"] = json!([{"_type": "step", "name": "a"}, {"_type": "step", "name": "a"}]);
        assert!(parse_layout(&dup).unwrap_err().contains("used twice"));
    }

    #[test]
    fn link_hashes_must_be_hex() {
        let l = json!({"_type": "link", "name": "a", "materials": {"x": {"sha256": "zz"}}});
        assert!(parse_link(l.clone())
            .unwrap_err()
            .contains("link.materials[\"x\"].sha256"));
        let l = json!({"_type": "link", "name": "a", "products": {"x": {"sha256": "0a"}}});
        assert_eq!(parse_link(l.clone()).unwrap().products["x"]["sha256"], "0a");
    }

    #[test]
    fn signed_forms_refuse_garbage() {
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"payload\": \"e30=\", \"payloadType\": \"text/plain\", \"signatures\": []}",
            b"{\"signed\": {}, \"signatures\": [{\"keyid\": \"ab\"}]}",
            b"{\"signed\": {\"n\": 1.5}, \"signatures\": []}",
            b"{\"signatures\": []}",
        ] {
            assert!(
                parse_signed(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(100_000);
        assert!(parse_signed(deep.as_bytes()).is_err());
    }

    #[test]
    fn footprint_is_estimated_without_parsing_and_bounded() {
        assert_eq!(
            json_footprint(b"[0, 0, 0]", u64::MAX).unwrap(),
            80 + 3 * 160
        );
        assert_eq!(
            json_footprint(br#"{"ab": "xyz"}"#, u64::MAX).unwrap(),
            80 + 128 + 2 + 80 + 3
        );
        let e = json_footprint(b"[0, 0, 0]", 300).unwrap_err().to_string();
        assert!(e.contains("more than 300 bytes of memory"), "{e}");
        assert!(json_footprint(b"[0, 0", u64::MAX).is_err());
        assert!(json_footprint(b"[0] x", u64::MAX).is_err());
        // parse_signed refuses before parsing; more than 64 signatures too.
        let zeros = format!(
            "{{\"signed\": [{}], \"signatures\": []}}",
            ["0"; 7_000_000].join(",")
        );
        assert!(parse_signed(zeros.as_bytes())
            .unwrap_err()
            .contains("bytes of memory"));
        let sigs = vec![r#"{"keyid": "ab", "sig": "00"}"#; 65].join(",");
        let many = format!(r#"{{"signed": {{}}, "signatures": [{sigs}]}}"#);
        assert!(parse_signed(many.as_bytes())
            .unwrap_err()
            .contains("65 signatures"));
    }
}
