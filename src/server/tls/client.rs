//! The TLS client a broker uses toward other brokers' SSL / SASL_SSL listeners and toward
//! the controllers' SSL listener, set up as Kafka's SslFactory sets up its client side from the
//! same listener keys the server side reads:
//! - trust: `ssl.truststore.*` of the listener (Milena has no default CA list, so a TLS peer
//!   without a truststore stops start-up);
//! - our certificate: `ssl.keystore.*`, offered when the server asks for one (mutual TLS);
//! - host names: `ssl.endpoint.identification.algorithm` (Kafka's default `https` checks that
//!   the peer's certificate names the host we dialled, DNS name or IP address; empty checks the
//!   chain only);
//! - versions and cipher suites: `ssl.enabled.protocols`, `ssl.protocol`, `ssl.cipher.suites`.
//!
//! The handshake is bounded by [`super::HANDSHAKE_TIMEOUT`]; a failure is an `io::Error` that
//! names the peer and rustls' reason (never a password).

use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::{keystore, ring_provider, supported, TlsSetupError, HANDSHAKE_TIMEOUT};
use crate::config::ssl::SslSettings;

/// The client side of TLS toward one listener of other nodes.
pub struct TlsClient {
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

impl TlsClient {
    /// Reads the truststore (and keystore, if one is configured) of `settings`' listener.
    /// `check_host_name` follows `ssl.endpoint.identification.algorithm`.
    pub fn new(settings: &SslSettings, check_host_name: bool) -> Result<TlsClient, TlsSetupError> {
        let invalid = |message: String| TlsSetupError::Invalid {
            listener: settings.listener.clone(),
            message,
        };
        let store = |error| TlsSetupError::Store {
            listener: settings.listener.clone(),
            error,
        };
        let Some(trust) = &settings.truststore else {
            return Err(invalid(
                "brokers connect to this listener with TLS and must trust its certificates: set ssl.truststore.location or ssl.truststore.certificates (Milena has no default CA list)".into(),
            ));
        };
        let mut roots = RootCertStore::empty();
        for cert in keystore::load_trust_store(trust).map_err(store)? {
            roots
                .add(cert)
                .map_err(|e| invalid(format!("truststore certificate refused: {e}")))?;
        }
        let (provider, versions) = supported(settings, ring_provider())?;
        let provider = Arc::new(provider);
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| invalid(format!("server certificate verifier: {e}")))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| invalid(format!("TLS versions: {e}")))?;
        let builder = if check_host_name {
            builder.with_webpki_verifier(webpki)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
        };
        let has_keystore = settings.keystore.location.is_some()
            || settings.keystore.key.is_some()
            || settings.keystore.certificate_chain.is_some();
        let config = if has_keystore {
            let material = keystore::load_key_store(&settings.keystore).map_err(store)?;
            builder
                .with_client_auth_cert(material.chain, material.key)
                .map_err(|e| invalid(format!("keystore certificate and key: {e}")))?
        } else {
            builder.with_no_client_auth()
        };
        Ok(TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// Runs the client handshake with the peer at `host` over `stream`.
    pub async fn handshake(
        &self,
        stream: TcpStream,
        host: &str,
    ) -> io::Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host} is not a host name TLS can check"),
            )
        })?;
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.connector.connect(name, stream)).await {
            Ok(Ok(stream)) => Ok(stream),
            // Kafka's SslAuthenticationException: an untrusted or misnamed certificate, a
            // refused client certificate, no common version or suite.
            Ok(Err(e)) => Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("TLS handshake with {host} failed: {e}"),
            )),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("TLS handshake with {host} did not finish within {HANDSHAKE_TIMEOUT:?}"),
            )),
        }
    }
}

/// `ssl.endpoint.identification.algorithm=` (empty): the chain must lead to a trusted CA and
/// the signatures must verify, but the certificate need not name the host.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
