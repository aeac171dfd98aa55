//! A throw-away certificate authority for TLS tests, made with the `openssl` CLI at test
//! time so that no key is ever committed.

use super::process::TempDir;
use std::path::PathBuf;
use std::process::Command;

/// The extensions each certificate gets. rustls (webpki) insists on them: a CA must say
/// `CA:TRUE` and may sign certificates, an end-entity must say `CA:FALSE` and carry the
/// extended key usage it is used for, and a server is matched by its subjectAltName
/// only (the CN is never looked at).
const CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = replaced by -subj
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

/// How long the certificates are valid: long enough for any test run, short enough that
/// a leaked one is worthless.
const DAYS: &str = "3";

/// A CA, a server certificate and a client certificate it signed, and an unrelated
/// second CA, in a temporary directory removed on drop.
///
/// - The server certificate's only subjectAltName is `DNS:localhost`: a client that
///   verifies connects to `rediss://localhost:PORT`, and `rediss://127.0.0.1:PORT` is a
///   hostname mismatch.
/// - The client certificate (extended key usage clientAuth) is for mutual TLS.
/// - The other CA signed nothing here: a client trusting only it must reject the server.
///
/// Keys are EC P-256, in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), which every TLS
/// stack reads; certificates are PEM, valid for three days from now.
pub struct TestPki {
    dir: TempDir,
}

impl TestPki {
    /// Generates a fresh PKI (a few `openssl` runs, well under a second).
    ///
    /// # Panics
    ///
    /// When `openssl` is not installed (scripts/test installs it) or one of its runs
    /// fails, with its error output.
    pub fn generate() -> Self {
        let pki = Self {
            dir: TempDir::new("pki"),
        };
        std::fs::write(pki.dir.path().join("openssl.cnf"), CONFIG).expect("the openssl config");
        pki.certificate_authority("ca", "session-tests-CA");
        pki.certificate_authority("other-ca", "session-tests-unrelated-CA");
        pki.signed("server", "session-tests-server", "server_ext");
        pki.signed("client", "session-tests-client", "client_ext");
        pki
    }

    /// The CA's certificate (PEM), to trust.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.path("ca.crt")
    }

    /// The CA's certificate, PEM.
    pub fn ca_cert_pem(&self) -> Vec<u8> {
        self.read("ca.crt")
    }

    /// The unrelated CA's certificate (PEM): trusting only it, the server is untrusted.
    pub fn other_ca_cert_path(&self) -> PathBuf {
        self.path("other-ca.crt")
    }

    /// The unrelated CA's certificate, PEM.
    pub fn other_ca_cert_pem(&self) -> Vec<u8> {
        self.read("other-ca.crt")
    }

    /// The client certificate (PEM), signed by the CA, for mutual TLS.
    pub fn client_cert_path(&self) -> PathBuf {
        self.path("client.crt")
    }

    /// The client certificate's private key (PKCS#8 PEM).
    pub fn client_key_path(&self) -> PathBuf {
        self.path("client.key")
    }

    /// The client certificate, PEM.
    pub fn client_cert_pem(&self) -> Vec<u8> {
        self.read("client.crt")
    }

    /// The client certificate's private key, PKCS#8 PEM.
    pub fn client_key_pem(&self) -> Vec<u8> {
        self.read("client.key")
    }

    /// The server certificate (PEM), signed by the CA, for `DNS:localhost` only.
    pub fn server_cert_path(&self) -> PathBuf {
        self.path("server.crt")
    }

    /// The server certificate's private key (PKCS#8 PEM).
    pub fn server_key_path(&self) -> PathBuf {
        self.path("server.key")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        let path = self.path(name);
        std::fs::read(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    }

    /// `NAME.key` and a self-signed `NAME.crt`.
    fn certificate_authority(&self, name: &str, common_name: &str) {
        self.key(name);
        self.openssl(&format!(
            "req -new -x509 -config openssl.cnf -extensions ca_ext -key {name}.key \
             -subj /CN={common_name} -days {DAYS} -sha256 -out {name}.crt"
        ));
    }

    /// `NAME.key` and `NAME.crt` signed by `ca`, with the extensions of `section`.
    fn signed(&self, name: &str, common_name: &str, section: &str) {
        self.key(name);
        self.openssl(&format!(
            "req -new -config openssl.cnf -key {name}.key -subj /CN={common_name} \
             -out {name}.csr"
        ));
        self.openssl(&format!(
            "x509 -req -in {name}.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
             -days {DAYS} -sha256 -extfile openssl.cnf -extensions {section} -out {name}.crt"
        ));
    }

    /// An EC P-256 key; `genpkey` writes PKCS#8.
    fn key(&self, name: &str) {
        self.openssl(&format!(
            "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out {name}.key"
        ));
    }

    /// Runs `openssl` in the directory with whitespace-separated arguments (none of
    /// them contains a space).
    fn openssl(&self, args: &str) {
        let output = Command::new("openssl")
            .args(args.split_whitespace())
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|error| {
                panic!("cannot run openssl ({error}): run scripts/test, which installs it")
            });
        assert!(
            output.status.success(),
            "openssl {args} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl verify` with the given trust anchor and options; true when it verifies.
    fn verifies(pki: &TestPki, ca: PathBuf, cert: PathBuf, options: &[&str]) -> bool {
        Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(ca)
            .args(options)
            .arg(cert)
            .current_dir(pki.dir.path())
            .output()
            .expect("openssl runs")
            .status
            .success()
    }

    #[test]
    fn the_server_certificate_is_for_localhost_only_and_the_client_one_for_clients() {
        let pki = TestPki::generate();
        let server =
            |options: &[&str]| verifies(&pki, pki.ca_cert_path(), pki.server_cert_path(), options);
        assert!(server(&[
            "-purpose",
            "sslserver",
            "-verify_hostname",
            "localhost"
        ]));
        assert!(!server(&["-verify_ip", "127.0.0.1"]), "only DNS:localhost");
        assert!(
            !server(&["-purpose", "sslclient"]),
            "not a client certificate"
        );
        assert!(!verifies(
            &pki,
            pki.other_ca_cert_path(),
            pki.server_cert_path(),
            &[]
        ));

        let client =
            |options: &[&str]| verifies(&pki, pki.ca_cert_path(), pki.client_cert_path(), options);
        assert!(client(&["-purpose", "sslclient"]));
        assert!(
            !client(&["-purpose", "sslserver"]),
            "not a server certificate"
        );

        for key in [
            pki.client_key_pem(),
            std::fs::read(pki.server_key_path()).unwrap(),
        ] {
            assert!(key.starts_with(b"-----BEGIN PRIVATE KEY-----"), "PKCS#8");
        }
        assert!(pki
            .ca_cert_pem()
            .starts_with(b"-----BEGIN CERTIFICATE-----"));
        assert_ne!(pki.ca_cert_pem(), pki.other_ca_cert_pem());
        assert!(pki
            .client_cert_pem()
            .starts_with(b"-----BEGIN CERTIFICATE-----"));

        let dir = pki.dir.path().to_owned();
        drop(pki);
        assert!(!dir.exists(), "the keys are removed on drop");
    }
}
