//! Signing with a key in a PKCS#11 token (an HSM, a smart card, SoftHSM2), selected by an
//! RFC 7512 URI. The key never leaves the token; what we read from it is the public half,
//! which becomes a [`PublicKey`] so key ids and hints equal those of the same key in a file.
//!
//! Mechanisms: ECDSA P-256 as CKM_ECDSA over a SHA-256 digest we compute (the token returns
//! `r||s`, converted to DER), Ed25519 as CKM_EDDSA, RSA as CKM_SHA256_RSA_PKCS (DSSE,
//! Sigstore) or CKM_SHA256_RSA_PKCS_PSS with MGF1-SHA256 and a 32-byte salt (in-toto),
//! the same paddings as file keys.
//!
//! Invariants: every signature the token returns is verified against the public key before
//! it is used, so a mismatched public object or a faulty token fails instead of producing
//! bundles that name the wrong key; one module is loaded and initialized once per process
//! (C_Initialize is process-wide); PINs live in `Zeroizing`/`SecretString` and are never
//! printed: errors name the URI with `pin-value` redacted.

mod der;
pub mod uri;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType as CkKeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::keys::{KeyError, KeyType, PublicKey, RsaPadding, Signer};
use der::Curve;
pub use uri::{is_pkcs11_uri, ObjectType, Pkcs11Uri, UriError};

/// Environment variable naming the PKCS#11 module (shared library).
pub const MODULE_ENV: &str = "ATTEST_PKCS11_MODULE";
/// Environment variable holding the user PIN.
pub const PIN_ENV: &str = "ATTEST_PKCS11_PIN";

#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error(transparent)]
    Uri(#[from] UriError),
    #[error("{uri}: no PKCS#11 module: pass --pkcs11-module PATH, set {MODULE_ENV}, or add module-path= to the URI")]
    NoModule { uri: String },
    #[error("{uri}: cannot load the PKCS#11 module {}: {reason}", module.display())]
    Module {
        uri: String,
        module: PathBuf,
        reason: String,
    },
    #[error("{uri}: no token matches (tokens present: {available})")]
    TokenNotFound { uri: String, available: String },
    #[error("{uri}: {count} tokens match ({labels}); add serial= or slot-id= to choose one")]
    TokenAmbiguous {
        uri: String,
        count: usize,
        labels: String,
    },
    #[error("{uri}: a PIN is needed: set {PIN_ENV}, add pin-source=file:PATH to the URI, or run on a terminal to be prompted")]
    PinRequired { uri: String },
    #[error("{uri}: cannot read the PIN: {reason}")]
    Pin { uri: String, reason: String },
    #[error("{uri}: wrong PIN: token '{token}' refused the login")]
    WrongPin { uri: String, token: String },
    #[error("{uri}: the user PIN of token '{token}' is locked")]
    PinLocked { uri: String, token: String },
    #[error("{uri}: no {what} on token '{token}' matches")]
    KeyNotFound {
        uri: String,
        what: &'static str,
        token: String,
    },
    #[error("{uri}: {count} keys on token '{token}' match; add id= or object= to choose one")]
    KeyAmbiguous {
        uri: String,
        count: usize,
        token: String,
    },
    #[error("{uri}: the URI names a {what}; a signing key needs type=private (or no type)")]
    NotAPrivateKey { uri: String, what: &'static str },
    #[error("{uri}: unsupported key type ({what}); use ECDSA P-256, Ed25519 or RSA 2048-8192")]
    Unsupported { uri: String, what: String },
    #[error("{uri}: no public key for this private key on the token (looked for a public key object with the same CKA_ID or label)")]
    NoPublicKey { uri: String },
    #[error("{uri}: the token's public key does not verify a signature made by the private key: the public and private objects do not belong together, or the token is faulty")]
    KeyMismatch { uri: String },
    #[error("{uri}: {op}: {source}")]
    Call {
        uri: String,
        op: &'static str,
        #[source]
        source: CkError,
    },
    #[error("{uri}: {source}")]
    Key {
        uri: String,
        #[source]
        source: KeyError,
    },
}

/// A loaded, initialized module. C_Initialize is process-wide and may not run twice, so each
/// module file is loaded once and kept for the life of the process (never finalized: other
/// signers may still use it).
fn module(path: &Path, uri: &str) -> Result<Pkcs11, Pkcs11Error> {
    static LOADED: OnceLock<Mutex<Vec<(PathBuf, Pkcs11)>>> = OnceLock::new();
    let fail = |reason: String| Pkcs11Error::Module {
        uri: uri.to_owned(),
        module: path.into(),
        reason,
    };
    let canon = path
        .canonicalize()
        .map_err(|e| fail(format!("{e} (is the module installed?)")))?;
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some((_, ctx)) = loaded.iter().find(|(p, _)| *p == canon) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(&canon).map_err(|e| fail(e.to_string()))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Loaded through another path name of the same file: dlopen shares it.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(fail(format!("C_Initialize: {e}"))),
    }
    loaded.push((canon, ctx.clone()));
    Ok(ctx)
}

/// The module file: `--pkcs11-module` first, then the URI's `module-path`, then
/// `ATTEST_PKCS11_MODULE`.
fn module_path(uri: &Pkcs11Uri, explicit: Option<&Path>) -> Result<PathBuf, Pkcs11Error> {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| uri.module_path.clone())
        .or_else(|| std::env::var_os(MODULE_ENV).map(PathBuf::from))
        .ok_or_else(|| Pkcs11Error::NoModule {
            uri: uri.to_string(),
        })
}

/// An open token: the module, the slot the URI selects, a session.
struct Token {
    ctx: Pkcs11,
    slot: Slot,
    label: String,
    uri: String,
}

impl Token {
    fn call(&self, op: &'static str) -> impl Fn(CkError) -> Pkcs11Error + '_ {
        move |source| Pkcs11Error::Call {
            uri: self.uri.clone(),
            op,
            source,
        }
    }

    fn open(uri: &Pkcs11Uri, module_file: Option<&Path>) -> Result<Self, Pkcs11Error> {
        let shown = uri.to_string();
        let ctx = module(&module_path(uri, module_file)?, &shown)?;
        let call = |op| {
            let shown = shown.clone();
            move |source| Pkcs11Error::Call {
                uri: shown.clone(),
                op,
                source,
            }
        };
        let lib_ok = if uri.library_manufacturer.is_some()
            || uri.library_description.is_some()
            || uri.library_version.is_some()
        {
            let info = ctx.get_library_info().map_err(call("C_GetInfo"))?;
            let v = info.library_version();
            eq(&uri.library_manufacturer, info.manufacturer_id())
                && eq(&uri.library_description, info.library_description())
                && uri
                    .library_version
                    .is_none_or(|(a, b)| (a, b) == (v.major(), v.minor()))
        } else {
            true
        };
        let mut found = Vec::new();
        let mut present = Vec::new();
        for slot in ctx.get_slots_with_token().map_err(call("C_GetSlotList"))? {
            let ti = ctx.get_token_info(slot).map_err(call("C_GetTokenInfo"))?;
            if !ti.token_initialized() {
                continue; // an empty slot's blank token (SoftHSM always offers one)
            }
            let label = ti.label().trim_end().to_owned();
            present.push(format!("'{label}'"));
            let mut ok = lib_ok
                && eq(&uri.token, ti.label())
                && eq(&uri.manufacturer, ti.manufacturer_id())
                && eq(&uri.serial, ti.serial_number())
                && eq(&uri.model, ti.model())
                && uri.slot_id.is_none_or(|id| id == slot.id());
            if ok && (uri.slot_description.is_some() || uri.slot_manufacturer.is_some()) {
                let si = ctx.get_slot_info(slot).map_err(call("C_GetSlotInfo"))?;
                ok = eq(&uri.slot_description, si.slot_description())
                    && eq(&uri.slot_manufacturer, si.manufacturer_id());
            }
            if ok {
                found.push((slot, label));
            }
        }
        match found.len() {
            1 => {
                let (slot, label) = found.remove(0);
                Ok(Token {
                    ctx,
                    slot,
                    label,
                    uri: shown,
                })
            }
            0 => Err(Pkcs11Error::TokenNotFound {
                uri: shown,
                available: if present.is_empty() {
                    "none".into()
                } else {
                    present.join(", ")
                },
            }),
            n => Err(Pkcs11Error::TokenAmbiguous {
                uri: shown,
                count: n,
                labels: found
                    .iter()
                    .map(|(s, l)| format!("'{l}' in slot {}", s.id()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn session(&self) -> Result<Session, Pkcs11Error> {
        self.ctx
            .open_ro_session(self.slot)
            .map_err(self.call("C_OpenSession"))
    }

    /// Logs the application in (PKCS#11 login state is shared by all sessions of the
    /// application on this token, so one login serves the session pool).
    fn login(&self, session: &Session, uri: &Pkcs11Uri) -> Result<(), Pkcs11Error> {
        let ti = self
            .ctx
            .get_token_info(self.slot)
            .map_err(self.call("C_GetTokenInfo"))?;
        if !ti.login_required() {
            return Ok(());
        }
        let pin = if ti.protected_authentication_path() {
            None // a PIN pad on the reader: C_Login with no PIN
        } else {
            Some(pin_for(uri, &self.label)?)
        };
        let auth = pin.map(|p| cryptoki::types::AuthPin::new(p.as_str().into()));
        match session.login(UserType::User, auth.as_ref()) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
                Err(Pkcs11Error::WrongPin {
                    uri: self.uri.clone(),
                    token: self.label.clone(),
                })
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked {
                uri: self.uri.clone(),
                token: self.label.clone(),
            }),
            Err(e) => Err(self.call("C_Login")(e)),
        }
    }

    /// Objects of `class` matching the URI's `object=` and `id=`.
    fn find(
        &self,
        session: &Session,
        uri: &Pkcs11Uri,
        class: ObjectClass,
    ) -> Result<Vec<ObjectHandle>, Pkcs11Error> {
        let mut t = vec![Attribute::Class(class)];
        if let Some(l) = &uri.object {
            t.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        if let Some(id) = &uri.id {
            t.push(Attribute::Id(id.clone()));
        }
        session.find_objects(&t).map_err(self.call("C_FindObjects"))
    }

    fn one(
        &self,
        mut v: Vec<ObjectHandle>,
        what: &'static str,
    ) -> Result<ObjectHandle, Pkcs11Error> {
        match v.len() {
            1 => Ok(v.remove(0)),
            0 => Err(Pkcs11Error::KeyNotFound {
                uri: self.uri.clone(),
                what,
                token: self.label.clone(),
            }),
            n => Err(Pkcs11Error::KeyAmbiguous {
                uri: self.uri.clone(),
                count: n,
                token: self.label.clone(),
            }),
        }
    }

    fn attrs(
        &self,
        session: &Session,
        h: ObjectHandle,
        want: &[AttributeType],
    ) -> Result<Vec<Attribute>, Pkcs11Error> {
        session
            .get_attributes(h, want)
            .map_err(self.call("C_GetAttributeValue"))
    }

    fn unsupported(&self, what: impl Into<String>) -> Pkcs11Error {
        Pkcs11Error::Unsupported {
            uri: self.uri.clone(),
            what: what.into(),
        }
    }

    /// The public key of a public or private key object. For RSA the private object
    /// carries the modulus and exponent; EC and Edwards private keys do not carry their
    /// point, so their public object (same CKA_ID, else same label) is read.
    fn public_key(&self, session: &Session, h: ObjectHandle) -> Result<PublicKey, Pkcs11Error> {
        use AttributeType as A;
        let got = self.attrs(
            session,
            h,
            &[
                A::Class,
                A::KeyType,
                A::Id,
                A::Label,
                A::Modulus,
                A::PublicExponent,
                A::EcParams,
                A::EcPoint,
            ],
        )?;
        let mut class = None;
        let mut key_type = None;
        let (mut id, mut label, mut n, mut e, mut params, mut point) =
            (None, None, None, None, None, None);
        for a in got {
            match a {
                Attribute::Class(c) => class = Some(c),
                Attribute::KeyType(k) => key_type = Some(k),
                Attribute::Id(v) => id = Some(v),
                Attribute::Label(v) => label = Some(v),
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                Attribute::EcParams(v) => params = Some(v),
                Attribute::EcPoint(v) => point = Some(v),
                _ => {}
            }
        }
        let key_type =
            key_type.ok_or_else(|| self.unsupported("the object has no CKA_KEY_TYPE"))?;
        let spki = match key_type {
            CkKeyType::RSA => match (n, e) {
                (Some(n), Some(e)) => der::rsa_spki(&n, &e),
                _ => return self.public_object_key(session, class, id, label, key_type),
            },
            CkKeyType::EC | CkKeyType::EC_EDWARDS => {
                let params =
                    params.ok_or_else(|| self.unsupported("EC key without CKA_EC_PARAMS"))?;
                let (curve, raw_len) = match (der::curve(&params), key_type) {
                    (Curve::P256, CkKeyType::EC) => (Curve::P256, 65),
                    (Curve::Ed25519, CkKeyType::EC_EDWARDS) => (Curve::Ed25519, 32),
                    (Curve::Other(c), _) => return Err(self.unsupported(format!("curve {c}"))),
                    (c, k) => return Err(self.unsupported(format!("{c:?} with key type {k}"))),
                };
                let Some(point) = point else {
                    return self.public_object_key(session, class, id, label, key_type);
                };
                let raw = der::ec_point(&point, raw_len).ok_or_else(|| {
                    self.unsupported(format!("CKA_EC_POINT of {} bytes", point.len()))
                })?;
                if curve == Curve::P256 {
                    der::p256_spki(&raw)
                } else {
                    der::ed25519_spki(&raw)
                }
            }
            other => return Err(self.unsupported(format!("key type {other}"))),
        };
        let spki =
            spki.map_err(|r| self.unsupported(format!("cannot encode the public key: {r}")))?;
        PublicKey::from_spki_der(&spki, Path::new(&self.uri)).map_err(|source| Pkcs11Error::Key {
            uri: self.uri.clone(),
            source,
        })
    }

    /// The public key object that belongs to a private key (same CKA_ID when it has one,
    /// else the same label, and the same key type).
    fn public_object_key(
        &self,
        session: &Session,
        class: Option<ObjectClass>,
        id: Option<Vec<u8>>,
        label: Option<Vec<u8>>,
        key_type: CkKeyType,
    ) -> Result<PublicKey, Pkcs11Error> {
        if class == Some(ObjectClass::PUBLIC_KEY) {
            return Err(Pkcs11Error::NoPublicKey {
                uri: self.uri.clone(),
            });
        }
        let mut t = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(key_type),
        ];
        match (id, label) {
            (Some(id), _) if !id.is_empty() => t.push(Attribute::Id(id)),
            (_, Some(l)) if !l.is_empty() => t.push(Attribute::Label(l)),
            _ => {
                return Err(Pkcs11Error::NoPublicKey {
                    uri: self.uri.clone(),
                })
            }
        }
        let found = session
            .find_objects(&t)
            .map_err(self.call("C_FindObjects"))?;
        if found.len() != 1 {
            return Err(Pkcs11Error::NoPublicKey {
                uri: self.uri.clone(),
            });
        }
        self.public_key(session, found[0])
    }
}

/// Text attribute match: absent in the URI matches anything; PKCS#11 pads with blanks.
fn eq(want: &Option<String>, have: &str) -> bool {
    want.as_deref().is_none_or(|w| w == have.trim_end())
}

/// The user PIN: the URI's `pin-value`, else its `pin-source` file, else
/// `ATTEST_PKCS11_PIN`, else a no-echo prompt on the terminal.
fn pin_for(uri: &Pkcs11Uri, token: &str) -> Result<Zeroizing<String>, Pkcs11Error> {
    let shown = uri.to_string();
    if let Some(p) = &uri.pin_value {
        return Ok(p.clone());
    }
    if let Some(src) = &uri.pin_source {
        return read_pin_source(src).map_err(|reason| Pkcs11Error::Pin { uri: shown, reason });
    }
    if let Ok(p) = std::env::var(PIN_ENV) {
        return Ok(Zeroizing::new(p));
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(Pkcs11Error::PinRequired { uri: shown });
    }
    rpassword::prompt_password(format!("PIN for token '{token}': "))
        .map(Zeroizing::new)
        .map_err(|e| Pkcs11Error::Pin {
            uri: shown,
            reason: e.to_string(),
        })
}

/// `pin-source`: a `file:` URI or an absolute path; the first line of the file. Commands
/// (`|prog`, which some tools accept) are refused: a key URI must not run programs.
fn read_pin_source(src: &str) -> Result<Zeroizing<String>, String> {
    let path = src
        .strip_prefix("file://")
        .or_else(|| src.strip_prefix("file:"))
        .unwrap_or(src);
    if !path.starts_with('/') {
        return Err(format!(
            "pin-source '{src}' must be file:/ABSOLUTE/PATH or an absolute path"
        ));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("pin-source {path}: {e}"))?;
    if meta.len() > 4096 {
        return Err(format!(
            "pin-source {path}: {} bytes is too large for a PIN file",
            meta.len()
        ));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("pin-source {path}: {e}"))?,
    );
    let line = text.lines().next().unwrap_or("");
    Ok(Zeroizing::new(line.to_owned()))
}

/// The public key a URI names, read from the token: a public key object when one matches
/// (no PIN needed), else the private key's (after login).
pub fn public_key(uri: &Pkcs11Uri, module_file: Option<&Path>) -> Result<PublicKey, Pkcs11Error> {
    let token = Token::open(uri, module_file)?;
    let session = token.session()?;
    if uri.object_type != Some(ObjectType::Private) {
        check_key_type(uri, true)?;
        let found = token.find(&session, uri, ObjectClass::PUBLIC_KEY)?;
        if found.len() == 1 || uri.object_type == Some(ObjectType::Public) {
            let h = token.one(found, "public key")?;
            return token.public_key(&session, h);
        }
    }
    token.login(&session, uri)?;
    let h = token.one(
        token.find(&session, uri, ObjectClass::PRIVATE_KEY)?,
        "private key",
    )?;
    token.public_key(&session, h)
}

fn check_key_type(uri: &Pkcs11Uri, public_ok: bool) -> Result<(), Pkcs11Error> {
    let what = match uri.object_type {
        None | Some(ObjectType::Private) => return Ok(()),
        Some(ObjectType::Public) if public_ok => return Ok(()),
        Some(ObjectType::Public) => "public key",
        Some(ObjectType::Cert) => "certificate",
        Some(ObjectType::SecretKey) => "secret key",
        Some(ObjectType::Data) => "data object",
    };
    Err(Pkcs11Error::NotAPrivateKey {
        uri: uri.to_string(),
        what,
    })
}

/// A private key in a token, usable from many threads: sessions are not shareable, so
/// each signature borrows one from a pool (opening another when all are busy).
pub struct Pkcs11Signer {
    token: Token,
    key: ObjectHandle,
    public: PublicKey,
    /// Kept open, never used to sign: login state lasts while any session of the
    /// application is open, and pooled sessions are dropped after a failure.
    _login: Mutex<Session>,
    sessions: Mutex<Vec<Session>>,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Signer({}, {:?})", self.token.uri, self.public)
    }
}

impl Pkcs11Signer {
    /// Opens the token the URI selects, logs in, finds exactly one private key, reads its
    /// public key and checks with one test signature that the two belong together.
    pub fn open(uri: &Pkcs11Uri, module_file: Option<&Path>) -> Result<Self, Pkcs11Error> {
        check_key_type(uri, false)?;
        let token = Token::open(uri, module_file)?;
        let session = token.session()?;
        token.login(&session, uri)?;
        let key = token.one(
            token.find(&session, uri, ObjectClass::PRIVATE_KEY)?,
            "private key",
        )?;
        let public = token.public_key(&session, key)?;
        let needed = match public.kind() {
            KeyType::EcdsaP256 => MechanismType::ECDSA,
            KeyType::Ed25519 => MechanismType::EDDSA,
            KeyType::Rsa => MechanismType::SHA256_RSA_PKCS,
        };
        let mechs = token
            .ctx
            .get_mechanism_list(token.slot)
            .map_err(token.call("C_GetMechanismList"))?;
        if !mechs.contains(&needed) {
            return Err(token.unsupported(format!("the token does not offer {needed}")));
        }
        let signer = Pkcs11Signer {
            token,
            key,
            public,
            _login: Mutex::new(session),
            sessions: Mutex::new(Vec::new()),
        };
        match signer.sign(b"attest pkcs11 self-test", RsaPadding::Pkcs1v15) {
            Ok(_) => Ok(signer),
            Err(KeyError::Sign(m)) if m.contains(MISMATCH) => Err(Pkcs11Error::KeyMismatch {
                uri: signer.token.uri.clone(),
            }),
            Err(source) => Err(Pkcs11Error::Key {
                uri: signer.token.uri.clone(),
                source,
            }),
        }
    }

    /// The URI, PIN redacted.
    pub fn uri(&self) -> &str {
        &self.token.uri
    }

    fn raw_sign(
        &self,
        session: &Session,
        msg: &[u8],
        padding: RsaPadding,
    ) -> Result<Vec<u8>, String> {
        let ck = |e: CkError| format!("C_Sign: {e}");
        match self.public.kind() {
            KeyType::EcdsaP256 => {
                let digest = Sha256::digest(msg);
                let raw = session
                    .sign(&Mechanism::Ecdsa, self.key, &digest)
                    .map_err(ck)?;
                der::ecdsa_p256_der(&raw)
            }
            KeyType::Ed25519 => {
                let m = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed25519));
                session.sign(&m, self.key, msg).map_err(ck)
            }
            KeyType::Rsa => {
                let m = match padding {
                    RsaPadding::Pkcs1v15 => Mechanism::Sha256RsaPkcs,
                    RsaPadding::Pss => Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
                        hash_alg: MechanismType::SHA256,
                        mgf: PkcsMgfType::MGF1_SHA256,
                        s_len: 32.into(),
                    }),
                };
                session.sign(&m, self.key, msg).map_err(ck)
            }
        }
    }
}

const MISMATCH: &str = "does not verify with the token's public key";

impl Signer for Pkcs11Signer {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, msg: &[u8], padding: RsaPadding) -> Result<Vec<u8>, KeyError> {
        let pooled = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let session = match pooled {
            Some(s) => s,
            None => self
                .token
                .session()
                .map_err(|e| KeyError::Sign(e.to_string()))?,
        };
        let result = self.raw_sign(&session, msg, padding);
        // A session whose operation failed may be in any state: drop it, do not reuse it.
        if result.is_ok() {
            self.sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(session);
        }
        let sig = result.map_err(|m| KeyError::Sign(format!("{}: {m}", self.token.uri)))?;
        if !self.public.verify(msg, &sig, padding) {
            return Err(KeyError::Sign(format!(
                "{}: the signature {MISMATCH}",
                self.token.uri
            )));
        }
        Ok(sig)
    }
}
