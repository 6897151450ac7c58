//! TLS for TCPCLv4 (RFC 9174 4.4): rustls configurations from DER certificates, and the
//! node-ID check against the peer certificate's URI subject-alternative names.
//!
//! The chain is verified by rustls's WebPKI verifiers against the configured trust anchors.
//! Server *names* are not: a TCPCL node is identified by its node ID, which its certificate
//! carries as a URI SAN (`ipn:1.0`, `dtn://node/`), checked once the peer's SESS_INIT names
//! it. DNS/IP names are not required.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};

/// What to do when the peer's certificate does not name its node ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeIdPolicy {
    /// End the session.
    Require,
    /// Go on, and say so.
    Warn,
    /// Do not check.
    None,
}

/// This node's TLS material.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    /// Our certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Our private key.
    pub key: Arc<PrivateKeyDer<'static>>,
    /// Trust anchors for peers' chains.
    pub roots: Vec<CertificateDer<'static>>,
    /// The node-ID check.
    pub policy: NodeIdPolicy,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused the material.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] Error),
    /// A trust anchor could not be used.
    #[error("trust anchor: {0}")]
    Anchor(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn root_store(roots: &[CertificateDer<'static>]) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).map_err(|e| TlsError::Anchor(e.to_string()))?;
    }
    Ok(store)
}

impl TlsSetup {
    /// Reads a PEM certificate chain (this node's first), its PEM private key and PEM trust
    /// anchors; errors name the file.
    pub fn from_pem_files(cert: &Path, key: &Path, ca: &Path, policy: NodeIdPolicy) -> Result<TlsSetup, String> {
        use rustls::pki_types::pem::PemObject;
        let read_certs = |path: &Path| -> Result<Vec<CertificateDer<'static>>, String> {
            let certs: Result<Vec<_>, _> =
                CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?.collect();
            let certs = certs.map_err(|e| format!("{}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!("{}: no certificate in it", path.display()));
            }
            Ok(certs)
        };
        let chain = read_certs(cert)?;
        let roots = read_certs(ca)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
        Ok(TlsSetup { chain, key: Arc::new(key), roots, policy })
    }
}

/// The active side's (TLS client's) configuration: TLS 1.3, our certificate for the peer to
/// check, the peer's chain verified against our anchors.
pub fn client_config(setup: &TlsSetup) -> Result<rustls::ClientConfig, TlsError> {
    let roots = Arc::new(root_store(&setup.roots)?);
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| TlsError::Anchor(e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
        .with_client_auth_cert(setup.chain.clone(), setup.key.clone_key())?;
    Ok(config)
}

/// The passive side's (TLS server's) configuration: TLS 1.3, clients must present a chain
/// our anchors accept.
pub fn server_config(setup: &TlsSetup) -> Result<rustls::ServerConfig, TlsError> {
    let roots = Arc::new(root_store(&setup.roots)?);
    let clients = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider())
        .build()
        .map_err(|e| TlsError::Anchor(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(clients)
        .with_single_cert(setup.chain.clone(), setup.key.clone_key())?;
    Ok(config)
}

/// Verifies the server's chain, not its DNS/IP name (the node ID is checked separately).
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(Error::InvalidCertificate(CertificateError::NotValidForName))
            | Err(Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The URI subject-alternative names of a DER certificate (empty if it has none or does not
/// parse).
pub fn uri_sans(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else { return Vec::new() };
    let Ok(Some(san)) = parsed.subject_alternative_name() else { return Vec::new() };
    san.value
        .general_names
        .iter()
        .filter_map(|n| if let GeneralName::URI(uri) = n { Some((*uri).to_string()) } else { None })
        .collect()
}

/// Whether the leaf certificate names `node_id` as a URI SAN.
pub fn names_node(peer_chain: Option<&[CertificateDer<'_>]>, node_id: &str) -> bool {
    peer_chain.and_then(|c| c.first()).is_some_and(|leaf| uri_sans(leaf).iter().any(|u| u == node_id))
}
