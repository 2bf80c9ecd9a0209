//! The TLS transport of `SSL` and `SASL_SSL` listeners (and, in [`client`], of a broker's
//! connections to other brokers' TLS listeners): the rustls server set up from
//! a listener's `ssl.*` settings, the bounded handshake, and the principal a client certificate
//! gives. What runs inside the TLS stream (the Kafka protocol, SASL) does not know it is there:
//! `connection::run` takes any [`super::connection::Transport`].
//!
//! Bounds: a handshake that has not finished within [`HANDSHAKE_TIMEOUT`] is dropped; rustls
//! bounds the memory of a handshake itself (records of at most 16 KiB plus overhead, handshake
//! messages of at most 64 KiB). A failed handshake (plaintext on the TLS port, garbage, a
//! missing or untrusted client certificate) closes that connection with one log line.

pub mod client;
mod keystore;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::connection::Transport;
use crate::config::ssl::{ClientAuth, SslSettings, TlsVersion};
use crate::log::FileSlice;
use crate::security::principal_mapping::PrincipalMapper;
use crate::security::{x500, KafkaPrincipal};

/// Longest time a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a TLS listener could not be set up (a start-up error).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("listener {listener}: {error}")]
    Store {
        listener: String,
        error: keystore::StoreError,
    },
    #[error("listener {listener}: {message}")]
    Invalid { listener: String, message: String },
}

/// A TLS listener's server side: accepts handshakes and names the client.
pub struct TlsListener {
    acceptor: TlsAcceptor,
    listener: String,
    principal_mapping: PrincipalMapper,
}

impl TlsListener {
    /// Reads the keystore and truststore and builds the TLS server of one listener.
    pub fn new(settings: &SslSettings) -> Result<TlsListener, TlsSetupError> {
        let config = server_config(settings)?;
        Ok(TlsListener {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            listener: settings.listener.clone(),
            principal_mapping: settings.principal_mapping.clone(),
        })
    }

    /// Runs the server handshake on `stream`, bounded by [`HANDSHAKE_TIMEOUT`]. On success, the
    /// principal is `User:<name>`, the client certificate's RFC 2253 subject mapped by
    /// `ssl.principal.mapping.rules`, or `User:ANONYMOUS` without a certificate, as Kafka's
    /// default principal builder decides. A subject no rule maps fails the authentication.
    pub async fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Option<(TlsStream<TcpStream>, KafkaPrincipal)> {
        // The handshake is polled by reference so that a timed-out connection is logged before
        // it is closed (dropping `accept` closes the socket).
        let mut accept = self.acceptor.accept(stream);
        let accepted = tokio::time::timeout(HANDSHAKE_TIMEOUT, &mut accept).await;
        let stream = match accepted {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::info!(%peer, listener = %self.listener, %error, "closing connection: TLS handshake failed");
                return None;
            }
            Err(_) => {
                tracing::info!(%peer, listener = %self.listener, timeout = ?HANDSHAKE_TIMEOUT, "closing connection: TLS handshake did not finish in time");
                drop(accept);
                return None;
            }
        };
        let leaf = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first());
        let principal = match leaf {
            None => KafkaPrincipal::anonymous(),
            // The verifier accepted the chain, so the certificate parses; if not, refuse.
            Some(cert) => {
                let Some(subject) = x500::subject_name(cert) else {
                    tracing::info!(%peer, listener = %self.listener, "closing connection: client certificate subject unreadable");
                    return None;
                };
                let Some(name) = self.principal_mapping.name(&subject) else {
                    tracing::info!(%peer, listener = %self.listener, %subject, "closing connection: no ssl.principal.mapping.rules rule applies to the client certificate's subject");
                    return None;
                };
                let principal = KafkaPrincipal::user(name);
                tracing::info!(%peer, listener = %self.listener, %principal, "TLS client certificate accepted");
                principal
            }
        };
        tracing::debug!(%peer, listener = %self.listener, %principal, "TLS handshake done");
        Some((stream, principal))
    }
}

/// The rustls server configuration of a listener: versions, cipher suites, client
/// authentication and the certificate, from Kafka's keys.
fn server_config(s: &SslSettings) -> Result<ServerConfig, TlsSetupError> {
    let invalid = |message: String| TlsSetupError::Invalid {
        listener: s.listener.clone(),
        message,
    };
    let store = |error| TlsSetupError::Store {
        listener: s.listener.clone(),
        error,
    };
    let (provider, versions) = supported(s, ring_provider())?;
    let provider = Arc::new(provider);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| invalid(format!("TLS versions: {e}")))?;
    let verifier = match s.client_auth {
        ClientAuth::None => WebPkiClientVerifier::no_client_auth(),
        auth => {
            let Some(trust) = &s.truststore else {
                return Err(invalid(format!(
                    "ssl.client.auth={} needs a truststore (ssl.truststore.location or ssl.truststore.certificates): Milena has no default CA list",
                    if auth == ClientAuth::Required { "required" } else { "requested" }
                )));
            };
            let mut roots = RootCertStore::empty();
            for cert in keystore::load_trust_store(trust).map_err(store)? {
                roots
                    .add(cert)
                    .map_err(|e| invalid(format!("truststore certificate refused: {e}")))?;
            }
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let builder = if auth == ClientAuth::Requested {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder
                .build()
                .map_err(|e| invalid(format!("client certificate verifier: {e}")))?
        }
    };
    let material = keystore::load_key_store(&s.keystore).map_err(store)?;
    builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(material.chain, material.key)
        .map_err(|e| invalid(format!("keystore certificate and key: {e}")))
}

/// The cipher suites and TLS versions a listener's keys allow (`ssl.cipher.suites`,
/// `ssl.enabled.protocols`, `ssl.protocol`), for its server and for connections to it.
fn supported(
    s: &SslSettings,
    mut provider: rustls::crypto::CryptoProvider,
) -> Result<
    (
        rustls::crypto::CryptoProvider,
        Vec<&'static SupportedProtocolVersion>,
    ),
    TlsSetupError,
> {
    let invalid = |message: String| TlsSetupError::Invalid {
        listener: s.listener.clone(),
        message,
    };
    if !s.cipher_suites.is_empty() {
        let unknown: Vec<&str> = s
            .cipher_suites
            .iter()
            .filter(|name| {
                !provider
                    .cipher_suites
                    .iter()
                    .any(|c| iana_name(c) == **name)
            })
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            let offered: Vec<String> = provider.cipher_suites.iter().map(iana_name).collect();
            return Err(invalid(format!(
                "ssl.cipher.suites: {} not available (Milena offers {})",
                unknown.join(", "),
                offered.join(", ")
            )));
        }
        provider
            .cipher_suites
            .retain(|c| s.cipher_suites.contains(&iana_name(c)));
    }
    // Only versions that kept at least one cipher suite.
    let versions: Vec<&'static SupportedProtocolVersion> = s
        .protocols
        .iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .filter(|v| provider.cipher_suites.iter().any(|c| c.version() == *v))
        .collect();
    if versions.is_empty() {
        return Err(invalid(
            "ssl.cipher.suites leaves no suite for the versions of ssl.enabled.protocols".into(),
        ));
    }
    Ok((provider, versions))
}

/// rustls with *ring*: a pure build (aws-lc-rs needs cmake and a C toolchain on every machine).
/// rustls deprecates it for lacking post-quantum key exchange, which Java 17 clients do not
/// offer anyway.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A cipher suite's IANA name, as Java and Kafka's `ssl.cipher.suites` spell it.
fn iana_name(suite: &rustls::SupportedCipherSuite) -> String {
    let name = suite.suite().as_str().unwrap_or("UNKNOWN");
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_string(),
    }
}

/// Over TLS the bytes must be encrypted in user space, so sendfile(2) cannot be used: the region
/// is read in chunks of at most [`TLS_FILE_CHUNK`] and written through the TLS stream.
///
/// Kernel TLS (kTLS) would restore sendfile, but is not used: it needs the `tls` kernel module
/// (often absent in containers), rustls hands its keys over only by a "dangerous" export, and
/// the kernel then owns the record layer, so a TLS 1.3 KeyUpdate or any other post-handshake
/// message from the client could no longer be handled by rustls. The copy costs a fraction of
/// the encryption that has to happen anyway.
impl Transport for TlsStream<TcpStream> {
    fn send_file<'a>(
        &'a mut self,
        slice: &'a FileSlice,
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        copy_file(self, slice)
    }
}

/// Largest read of a log file region sent over TLS; rustls accepts 64 KiB of plaintext at once.
const TLS_FILE_CHUNK: usize = 64 * 1024;

/// Reads `slice` in bounded chunks and writes them to `stream`. The reads are positional reads
/// of the page cache, like sendfile's, on the connection's task.
async fn copy_file<S: AsyncWrite + Unpin>(stream: &mut S, slice: &FileSlice) -> io::Result<()> {
    let mut buffer = vec![0u8; slice.len.min(TLS_FILE_CHUNK)];
    let mut offset = slice.position;
    let end = slice.position + slice.len as u64;
    while offset < end {
        let want = ((end - offset) as usize).min(buffer.len());
        let read = slice.file.read_at(&mut buffer[..want], offset)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{} is shorter than the fetched region",
                    slice.path.display()
                ),
            ));
        }
        stream.write_all(&buffer[..read]).await?;
        offset += read as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cipher_suites_have_java_names() {
        let provider = ring_provider();
        let names: Vec<String> = provider.cipher_suites.iter().map(iana_name).collect();
        assert!(names.contains(&"TLS_AES_128_GCM_SHA256".to_string()));
        assert!(names.contains(&"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_string()));
    }
}
