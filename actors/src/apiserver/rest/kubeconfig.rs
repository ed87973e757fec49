//! The kubeconfig the server writes for its admin user, and the admin's credentials.
//!
//! It names the server's HTTPS URL, trusts the cluster CA, and sets
//! `tls-server-name` to the member name the serving certificate carries (the
//! certificate has a DNS name, not an IP address). Two users are written: the
//! admin's bearer token (the current context) and, when given, the admin's client
//! certificate (context `hive-cert`). Strings are written JSON-quoted, which every
//! YAML reader reads as the same strings.

use std::io::{Read, Write};
use std::path::Path;

use base64::Engine as _;

/// What goes into a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kubeconfig {
    /// `https://<ip>:<port>`.
    pub server: String,
    /// The cluster CA certificate, PEM.
    pub ca_pem: String,
    /// The name the serving certificate is issued for.
    pub tls_server_name: String,
    /// The admin's bearer token.
    pub token: String,
    /// The admin's client certificate and key, PEM, if written.
    pub client_cert: Option<(String, String)>,
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

impl Kubeconfig {
    /// The kubeconfig as YAML text.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        out.push_str("apiVersion: v1\nkind: Config\nclusters:\n- name: hive\n  cluster:\n");
        out.push_str(&format!("    server: {}\n", q(&self.server)));
        out.push_str(&format!(
            "    certificate-authority-data: {}\n",
            q(&b64(&self.ca_pem))
        ));
        out.push_str(&format!(
            "    tls-server-name: {}\n",
            q(&self.tls_server_name)
        ));
        out.push_str("users:\n- name: hive-admin\n  user:\n");
        out.push_str(&format!("    token: {}\n", q(&self.token)));
        if let Some((cert, key)) = &self.client_cert {
            out.push_str("- name: hive-admin-cert\n  user:\n");
            out.push_str(&format!("    client-certificate-data: {}\n", q(&b64(cert))));
            out.push_str(&format!("    client-key-data: {}\n", q(&b64(key))));
        }
        out.push_str(
            "contexts:\n- name: hive\n  context:\n    cluster: hive\n    user: hive-admin\n",
        );
        if self.client_cert.is_some() {
            out.push_str(
                "- name: hive-cert\n  context:\n    cluster: hive\n    user: hive-admin-cert\n",
            );
        }
        out.push_str("current-context: hive\n");
        out
    }

    /// Writes the kubeconfig to `path` (mode 0600: it holds credentials).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_private(path, self.to_yaml().as_bytes())
    }
}

/// PEM text of `der` under `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The admin token kept in `path`, made (32 random bytes, hex) on first use.
pub fn load_or_create_token(path: &Path) -> std::io::Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let token = existing.trim().to_owned();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, token.as_bytes())?;
    Ok(token)
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kubeconfig names the server, trusts the CA, pins the server name and
    /// carries the token, with the certificate user only when given.
    #[test]
    fn kubeconfig_has_cluster_user_and_context() {
        let mut k = Kubeconfig {
            server: "https://127.0.0.1:6443".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            tls_server_name: "m1".into(),
            token: "t0k".into(),
            client_cert: None,
        };
        let yaml = k.to_yaml();
        assert!(yaml.contains("    server: \"https://127.0.0.1:6443\"\n"));
        assert!(yaml.contains(&format!(
            "certificate-authority-data: \"{}\"",
            b64(&k.ca_pem)
        )));
        assert!(yaml.contains("    tls-server-name: \"m1\"\n"));
        assert!(yaml.contains("    token: \"t0k\"\n"));
        assert!(yaml.ends_with("current-context: hive\n"));
        assert!(!yaml.contains("hive-admin-cert"));
        k.client_cert = Some(("C".into(), "K".into()));
        let yaml = k.to_yaml();
        assert!(yaml.contains(&format!("client-certificate-data: \"{}\"", b64("C"))));
        assert!(yaml.contains("- name: hive-cert\n"));
    }

    /// The token is made once, kept private, and read back unchanged.
    #[test]
    fn the_admin_token_persists() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile_dir();
        let path = dir.join("admin-token");
        let first = load_or_create_token(&path).expect("created");
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create_token(&path).expect("read"), first);
        let mode = std::fs::metadata(&path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0);
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let mut bytes = [0u8; 8];
        let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
        let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::env::temp_dir().join(format!("hive-kubeconfig-test-{name}"))
    }

    /// PEM wraps base64 at 64 columns between the label lines.
    #[test]
    fn pem_wraps_at_64_columns() {
        let text = pem("CERTIFICATE", &[7u8; 100]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().copied(), Some("-----END CERTIFICATE-----"));
    }
}
