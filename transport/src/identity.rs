//! Cluster identity: the cluster CA, member and node certificates, and member names.
//!
//! The CA is created on a member's first start and kept in its data directory as PEM
//! files (`ca.pem`, `ca.key`, the key mode 0600). Every member and node gets a
//! certificate signed by it whose DNS subject alternative name is its [`MemberName`];
//! that name is what peers dial and what the TLS layer checks.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use thiserror::Error;
use time::OffsetDateTime;

/// File name of the CA certificate in a data directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key in a data directory.
pub const CA_KEY_FILE: &str = "ca.key";

const CA_COMMON_NAME: &str = "hive cluster CA";
const CA_ORGANIZATION: &str = "hive";
const CA_VALIDITY: Duration = Duration::from_secs(20 * 365 * 24 * 3600);
/// Default lifetime of a member or node certificate.
pub const DEFAULT_CERT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Slack before "now" in `not_before`, so small clock skew between members is harmless.
const CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// Creating, loading or issuing identities failed.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// A member name is not a valid DNS name.
    #[error("invalid member name {0:?}: must be a DNS name (lowercase letters, digits, '-', '.')")]
    InvalidName(String),
    /// Certificate or key generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM file could not be parsed.
    #[error("bad PEM in {path}: {reason}")]
    BadPem {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The CA key on disk does not belong to the CA certificate on disk.
    #[error("CA key in {0} does not match the CA certificate")]
    KeyMismatch(PathBuf),
    /// Only one of the CA files exists.
    #[error("incomplete CA in {0}: need both {CA_CERT_FILE} and {CA_KEY_FILE}")]
    Incomplete(PathBuf),
    /// A file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A validity date is outside what X.509 can express.
    #[error("validity date out of range")]
    BadValidity,
}

/// The name of a cluster member or node: a lowercase DNS name, used as the certificate's
/// DNS SAN, as the TLS server name when dialing, and as the peer's identity in metrics and
/// fault rules.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct MemberName(String);

impl MemberName {
    /// Validates `name` as a DNS name (labels of `[a-z0-9-]`, not starting or ending in '-').
    pub fn new(name: impl Into<String>) -> Result<Self, IdentityError> {
        let name = name.into();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
            return Err(IdentityError::InvalidName(name));
        }
        Ok(MemberName(name))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MemberName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a certificate holder is; recorded in the certificate's organizational unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A control-plane member (store, API server, controllers).
    Member,
    /// A worker node agent.
    Node,
}

impl Role {
    fn unit(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Node => "node",
        }
    }
}

/// When a certificate is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validity {
    /// First instant of validity.
    pub not_before: SystemTime,
    /// Last instant of validity.
    pub not_after: SystemTime,
}

impl Validity {
    /// Valid from a little before now for `lifetime`.
    pub fn starting_now(lifetime: Duration) -> Self {
        let now = SystemTime::now();
        Validity {
            not_before: now.checked_sub(CLOCK_SKEW).unwrap_or(now),
            not_after: now + lifetime,
        }
    }

    /// A window that ended a day ago (for tests of expiry handling).
    pub fn expired() -> Self {
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 3600);
        Validity {
            not_before: now.checked_sub(2 * day).unwrap_or(now),
            not_after: now.checked_sub(day).unwrap_or(now),
        }
    }

    fn apply(&self, params: &mut CertificateParams) -> Result<(), IdentityError> {
        params.not_before = to_offset(self.not_before)?;
        params.not_after = to_offset(self.not_after)?;
        Ok(())
    }
}

fn to_offset(t: SystemTime) -> Result<OffsetDateTime, IdentityError> {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| IdentityError::BadValidity)?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| IdentityError::BadValidity)?;
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| IdentityError::BadValidity)
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // keep the DER INTEGER positive
    SerialNumber::from_slice(&bytes)
}

/// The parameters that define the CA's subject. Reloading the CA rebuilds an issuer from
/// them and the stored key, so they must never change.
fn ca_params(validity: Validity) -> Result<CertificateParams, IdentityError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, CA_ORGANIZATION);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial());
    validity.apply(&mut params)?;
    Ok(params)
}

/// The cluster certificate authority: signs member and node certificates and is the only
/// trust root of every TLS session.
pub struct ClusterCa {
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key: KeyPair,
    issuer: rcgen::Certificate,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa").finish_non_exhaustive()
    }
}

impl ClusterCa {
    /// Creates a new CA in memory.
    pub fn generate() -> Result<Self, IdentityError> {
        let key = KeyPair::generate()?;
        let cert = ca_params(Validity::starting_now(CA_VALIDITY))?.self_signed(&key)?;
        Ok(ClusterCa {
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            key,
            issuer: cert,
        })
    }

    /// Loads the CA from `dir`, or creates it there (and the directory) on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Self::load(dir),
            (false, false) => {
                fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
                let ca = Self::generate()?;
                write_file(&cert_path, ca.cert_pem.as_bytes(), 0o644)?;
                write_file(&key_path, ca.key.serialize_pem().as_bytes(), 0o600)?;
                tracing::info!(dir = %dir.display(), "created cluster CA");
                Ok(ca)
            }
            _ => Err(IdentityError::Incomplete(dir.to_path_buf())),
        }
    }

    /// Loads an existing CA from `dir`.
    pub fn load(dir: &Path) -> Result<Self, IdentityError> {
        let (cert_path, key_path) = (dir.join(CA_CERT_FILE), dir.join(CA_KEY_FILE));
        let cert_pem = read_string(&cert_path)?;
        let key_pem = read_string(&key_path)?;
        Self::from_pem(&cert_pem, &key_pem, dir)
    }

    fn from_pem(cert_pem: &str, key_pem: &str, dir: &Path) -> Result<Self, IdentityError> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| {
            IdentityError::BadPem {
                path: dir.join(CA_CERT_FILE),
                reason: e.to_string(),
            }
        })?;
        let key = KeyPair::from_pem(key_pem).map_err(|e| IdentityError::BadPem {
            path: dir.join(CA_KEY_FILE),
            reason: e.to_string(),
        })?;
        // The stored certificate must carry the stored key's public key.
        let spki = key.public_key_raw();
        if !cert_der.windows(spki.len()).any(|w| w == spki) {
            return Err(IdentityError::KeyMismatch(dir.to_path_buf()));
        }
        // Signing needs only the issuer's subject and key; rebuild them deterministically.
        let issuer = ca_params(Validity::starting_now(CA_VALIDITY))?.self_signed(&key)?;
        Ok(ClusterCa {
            cert_der,
            cert_pem: cert_pem.to_string(),
            key,
            issuer,
        })
    }

    /// The CA certificate (DER), the trust root for every peer.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// The CA certificate (PEM), as stored in `ca.pem`.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a certificate for `name` valid from now for [`DEFAULT_CERT_VALIDITY`].
    pub fn issue(&self, name: &MemberName, role: Role) -> Result<Identity, IdentityError> {
        self.issue_with_validity(name, role, Validity::starting_now(DEFAULT_CERT_VALIDITY))
    }

    /// Issues a certificate for `name` with an explicit validity window.
    pub fn issue_with_validity(
        &self,
        name: &MemberName,
        role: Role,
        validity: Validity,
    ) -> Result<Identity, IdentityError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name.as_str());
        dn.push(DnType::OrganizationName, CA_ORGANIZATION);
        dn.push(DnType::OrganizationalUnitName, role.unit());
        params.distinguished_name = dn;
        params.subject_alt_names = vec![SanType::DnsName(
            name.as_str()
                .to_string()
                .try_into()
                .map_err(|_| IdentityError::InvalidName(name.to_string()))?,
        )];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // Every process both accepts and dials.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial());
        validity.apply(&mut params)?;
        let cert = params.signed_by(&key, &self.issuer, &self.key)?;
        Ok(Identity {
            name: name.clone(),
            role,
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
            ca_der: self.cert_der.clone(),
        })
    }
}

/// A member's or node's credentials: its name, its certificate signed by the cluster CA,
/// its private key, and the CA certificate it trusts.
#[derive(Clone)]
pub struct Identity {
    name: MemberName,
    role: Role,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads `name`'s certificate and key from `dir` (`<name>.pem`, `<name>.key`), or issues
    /// them with `ca` and stores them there.
    pub fn load_or_issue(
        dir: &Path,
        ca: &ClusterCa,
        name: &MemberName,
        role: Role,
    ) -> Result<Self, IdentityError> {
        let cert_path = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}.key"));
        if cert_path.exists() && key_path.exists() {
            let cert_der = CertificateDer::from_pem_slice(read_string(&cert_path)?.as_bytes())
                .map_err(|e| IdentityError::BadPem {
                    path: cert_path.clone(),
                    reason: e.to_string(),
                })?;
            let key = PrivatePkcs8KeyDer::from_pem_slice(read_string(&key_path)?.as_bytes())
                .map_err(|e| IdentityError::BadPem {
                    path: key_path.clone(),
                    reason: e.to_string(),
                })?;
            return Ok(Identity {
                name: name.clone(),
                role,
                cert_der,
                key_der: key.secret_pkcs8_der().to_vec(),
                ca_der: ca.cert_der.clone(),
            });
        }
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let id = ca.issue(name, role)?;
        let cert_pem = pem_encode("CERTIFICATE", &id.cert_der);
        write_file(&cert_path, cert_pem.as_bytes(), 0o644)?;
        write_file(
            &key_path,
            pem_encode("PRIVATE KEY", &id.key_der).as_bytes(),
            0o600,
        )?;
        Ok(id)
    }

    /// The holder's name (the certificate's DNS SAN).
    pub fn name(&self) -> &MemberName {
        &self.name
    }

    /// Whether this is a member or a node.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The certificate chain presented in handshakes (leaf only; the CA is the root).
    pub fn cert_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert_der.clone()]
    }

    /// The private key (PKCS#8).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// The cluster CA certificate this identity trusts.
    pub fn ca_cert(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The same credentials, trusting a different CA (for tests of foreign peers).
    pub fn with_trusted_ca(mut self, ca: CertificateDer<'static>) -> Self {
        self.ca_der = ca;
        self
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    // Standard base64 with 64-column lines, as every PEM reader expects.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError {
    let path = path.to_path_buf();
    move |source| IdentityError::Io { op, path, source }
}

fn read_string(path: &Path) -> Result<String, IdentityError> {
    fs::read_to_string(path).map_err(io_err("read", path))
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), IdentityError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    f.write_all(contents).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("sync", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Member names must be lowercase DNS names.
    #[test]
    fn member_names_are_validated_as_dns_names() {
        for ok in ["a", "node-1", "member-0.hive.local"] {
            assert!(MemberName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "Upper", "a..b", "a b", "a_b"] {
            assert!(MemberName::new(bad).is_err(), "{bad}");
        }
    }

    /// Our PEM encoder produces what the PEM reader reads back.
    #[test]
    fn pem_encoding_round_trips() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 100] {
            let der: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
            let pem = pem_encode("PRIVATE KEY", &der);
            let back = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes());
            if len == 0 {
                continue;
            }
            assert_eq!(back.unwrap().secret_pkcs8_der(), &der[..], "len {len}");
        }
    }

    /// The CA is created once in the data directory with a 0600 key, and reloading it
    /// yields a CA whose certificates chain to the same root.
    #[test]
    fn ca_is_created_on_first_start_and_reloaded_afterwards() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let first = ClusterCa::load_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(CA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = ClusterCa::load_or_create(dir.path()).unwrap();
        assert_eq!(first.cert_der(), second.cert_der());
        let name = MemberName::new("m1").unwrap();
        let id = Identity::load_or_issue(dir.path(), &second, &name, Role::Member).unwrap();
        let again = Identity::load_or_issue(dir.path(), &second, &name, Role::Member).unwrap();
        assert_eq!(id.cert_der, again.cert_der);
        assert_eq!(id.key_der, again.key_der);
        let key_mode = fs::metadata(dir.path().join("m1.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(key_mode & 0o777, 0o600);
    }
}
