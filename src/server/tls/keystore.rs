//! Reading Kafka's keystores and truststores: PKCS#12 files (as Java's keytool and
//! `openssl pkcs12 -export` write them) and PEM (a file, or text inline in the configuration).
//!
//! PKCS#12 is decoded by the `p12-keystore` crate and PEM by `rustls-pki-types`: no DER is read
//! by hand. A Java JKS file (magic `FEEDFEED`) is refused with a message saying how to convert it;
//! a file under Kafka's default type JKS that is really PKCS#12 (keytool's default output since
//! Java 9) is read as PKCS#12, as Java itself does.
//!
//! Truststores: the certificates keytool marks as trusted, plus those not bound to a private key
//! (`openssl pkcs12 -export -nokeys` writes no trust mark; Java would ignore those, which only
//! ever surprises the operator who made the file).
//!
//! Errors name the configuration key and the file, never a password.

use std::path::Path;

use p12_keystore::{KeyStore, Pkcs12Archive, Pkcs12ImportPolicy};
use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::ssl::{KeyStoreSettings, Secret, StoreType, TrustStoreSettings};

/// Why a keystore or truststore could not be used. The text is for the start-up error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(String);

fn err(message: impl Into<String>) -> StoreError {
    StoreError(message.into())
}

/// The listener's own certificate chain (leaf first) and private key.
pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// The magic number that opens a Java KeyStore (JKS) file.
const JKS_MAGIC: [u8; 4] = [0xFE, 0xED, 0xFE, 0xED];

/// Loads `ssl.keystore.*`.
pub fn load_key_store(s: &KeyStoreSettings) -> Result<KeyMaterial, StoreError> {
    let inline = s.key.is_some() || s.certificate_chain.is_some();
    if inline {
        if s.store_type != StoreType::Pem {
            return Err(err(
                "ssl.keystore.key and ssl.keystore.certificate.chain need ssl.keystore.type=PEM",
            ));
        }
        if s.location.is_some() {
            return Err(err(
                "ssl.keystore.location cannot be set together with ssl.keystore.key / ssl.keystore.certificate.chain",
            ));
        }
        let (Some(key), Some(chain)) = (&s.key, &s.certificate_chain) else {
            return Err(err(
                "ssl.keystore.key and ssl.keystore.certificate.chain must be set together",
            ));
        };
        return pem_key_material(
            normalise_pem(chain.expose()).as_bytes(),
            normalise_pem(key.expose()).as_bytes(),
            s.key_password.as_ref(),
            "ssl.keystore.key",
        );
    }
    let Some(path) = &s.location else {
        return Err(err(
            "an SSL listener needs a keystore: set ssl.keystore.location (or, with ssl.keystore.type=PEM, ssl.keystore.key and ssl.keystore.certificate.chain)",
        ));
    };
    let data = read("ssl.keystore.location", path)?;
    match s.store_type {
        StoreType::Pem => pem_key_material(
            &data,
            &data,
            s.key_password.as_ref(),
            "ssl.keystore.location",
        ),
        StoreType::Jks | StoreType::Pkcs12 => {
            check_not_jks(&data, "ssl.keystore.location", path)?;
            let Some(password) = &s.password else {
                return Err(err(format!(
                    "the keystore {} needs ssl.keystore.password",
                    path.display()
                )));
            };
            pkcs12_key_material(&data, password, s.key_password.as_ref(), path)
        }
    }
}

/// Loads `ssl.truststore.*`: the CA certificates client certificates must chain to.
pub fn load_trust_store(
    s: &TrustStoreSettings,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let certs =
        match (&s.certificates, &s.location) {
            (Some(_), Some(_)) => return Err(err(
                "ssl.truststore.location cannot be set together with ssl.truststore.certificates",
            )),
            (Some(text), None) => {
                if s.store_type != StoreType::Pem {
                    return Err(err(
                        "ssl.truststore.certificates needs ssl.truststore.type=PEM",
                    ));
                }
                pem_certificates(
                    normalise_pem(text.expose()).as_bytes(),
                    "ssl.truststore.certificates",
                )?
            }
            (None, Some(path)) => {
                let data = read("ssl.truststore.location", path)?;
                match s.store_type {
                    StoreType::Pem => pem_certificates(&data, "ssl.truststore.location")?,
                    StoreType::Jks | StoreType::Pkcs12 => {
                        check_not_jks(&data, "ssl.truststore.location", path)?;
                        pkcs12_trusted(&data, s.password.as_ref(), path)?
                    }
                }
            }
            (None, None) => Vec::new(),
        };
    if certs.is_empty() {
        return Err(err("the truststore holds no certificate"));
    }
    Ok(certs)
}

fn read(key: &str, path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|e| err(format!("cannot read {key} {}: {e}", path.display())))
}

fn check_not_jks(data: &[u8], key: &str, path: &Path) -> Result<(), StoreError> {
    if data.starts_with(&JKS_MAGIC) {
        return Err(err(format!(
            "{key} {} is a JKS keystore, which Milena cannot read; convert it with \
             `keytool -importkeystore -srckeystore <file> -destkeystore <file>.p12 -deststoretype PKCS12` \
             and set the type to PKCS12",
            path.display()
        )));
    }
    Ok(())
}

fn pkcs12_key_material(
    data: &[u8],
    password: &Secret,
    key_password: Option<&Secret>,
    path: &Path,
) -> Result<KeyMaterial, StoreError> {
    // PKCS#12 as keytool and openssl write it protects keys with the store password. A distinct
    // ssl.key.password is tried second (a file whose key bags use another password).
    let mut store = KeyStore::from_pkcs12(data, password.expose(), Pkcs12ImportPolicy::Strict);
    if let (Err(_), Some(key_password)) = (&store, key_password) {
        if key_password != password {
            store = KeyStore::from_pkcs12(data, key_password.expose(), Pkcs12ImportPolicy::Strict);
        }
    }
    let store = store.map_err(|e| {
        err(format!(
            "cannot read the PKCS12 keystore {} (wrong ssl.keystore.password, or not PKCS12): {e}",
            path.display()
        ))
    })?;
    let Some((alias, chain)) = store.private_key_chain() else {
        return Err(err(format!(
            "the keystore {} holds no private key with its certificate",
            path.display()
        )));
    };
    let others = store
        .entries()
        .filter(|(_, e)| matches!(e, p12_keystore::KeyStoreEntry::PrivateKeyChain(_)))
        .count();
    if others > 1 {
        tracing::warn!(keystore = %path.display(), alias, "the keystore holds several private keys; using the first");
    }
    Ok(KeyMaterial {
        chain: chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())),
    })
}

fn pkcs12_trusted(
    data: &[u8],
    password: Option<&Secret>,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let password = password.map_or("", Secret::expose);
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|e| {
        err(format!(
            "cannot read the PKCS12 truststore {} (wrong or missing ssl.truststore.password, or not PKCS12): {e}",
            path.display()
        ))
    })?;
    Ok(archive
        .certs
        .iter()
        .filter(|c| c.trusted || c.local_key_id.is_none())
        .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
        .collect())
}

fn pem_certificates(pem: &[u8], key: &str) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("{key}: not PEM certificates: {e}")))
}

fn pem_key_material(
    chain_pem: &[u8],
    key_pem: &[u8],
    key_password: Option<&Secret>,
    key: &str,
) -> Result<KeyMaterial, StoreError> {
    let chain = pem_certificates(chain_pem, key)?;
    if chain.is_empty() {
        return Err(err(format!("{key}: no PEM certificate found")));
    }
    let mut private_key = None;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(key_pem) {
        let (kind, der) = section.map_err(|e| err(format!("{key}: bad PEM: {e}")))?;
        let parsed = match kind {
            SectionKind::PrivateKey => PrivateKeyDer::Pkcs8(der.into()),
            SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(der.into()),
            SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(der.into()),
            _ => continue,
        };
        if private_key.replace(parsed).is_some() {
            return Err(err(format!("{key}: more than one private key")));
        }
    }
    match private_key {
        Some(key) => Ok(KeyMaterial { chain, key }),
        None => {
            let key = decrypt_pem_key(key_pem, key_password, key)?;
            Ok(KeyMaterial { chain, key })
        }
    }
}

/// An `ENCRYPTED PRIVATE KEY` (PKCS#8, PBES2) decrypted with `ssl.key.password`, as Kafka's PEM
/// keystores allow.
fn decrypt_pem_key(
    pem: &[u8],
    password: Option<&Secret>,
    key: &str,
) -> Result<PrivateKeyDer<'static>, StoreError> {
    const LABEL: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    let text = String::from_utf8_lossy(pem);
    let Some(start) = text.find(LABEL) else {
        return Err(err(format!("{key}: no PEM private key found")));
    };
    let end_label = "-----END ENCRYPTED PRIVATE KEY-----";
    let Some(end) = text[start..].find(end_label) else {
        return Err(err(format!("{key}: unterminated encrypted private key")));
    };
    let block = &text[start..start + end + end_label.len()];
    let Some(password) = password else {
        return Err(err(format!(
            "{key}: the private key is encrypted and ssl.key.password is not set"
        )));
    };
    // Decoded from a byte slice: the crate's PEM reader cannot parse PBES2 parameters.
    let (_, der) = pkcs8::der::pem::decode_vec(block.as_bytes())
        .map_err(|e| err(format!("{key}: bad encrypted private key: {e}")))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| err(format!("{key}: bad encrypted private key: {e}")))?;
    let document = info.decrypt(password.expose()).map_err(|_| {
        err(format!(
            "{key}: cannot decrypt the private key (wrong ssl.key.password, or an unsupported cipher)"
        ))
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        document.as_bytes().to_vec(),
    )))
}

/// PEM given inline in a properties file often comes on one line (continuation lines with `\`
/// join it, and Kafka ignores the whitespace inside): put the markers on lines of their own and
/// the base64 body, whitespace removed, between them.
fn normalise_pem(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after_begin = &rest[begin + 11..];
        let Some(label_end) = after_begin.find("-----") else {
            break;
        };
        let label = &after_begin[..label_end];
        let body_and_more = &after_begin[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_and_more.find(&end_marker) else {
            break;
        };
        let body: String = body_and_more[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        out.push_str(&format!("-----BEGIN {label}-----\n{body}\n{end_marker}\n"));
        rest = &body_and_more[end + end_marker.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_pem_is_normalised() {
        let one_line = "-----BEGIN CERTIFICATE----- QUJD REVG -----END CERTIFICATE----- \
                        -----BEGIN PRIVATE KEY-----R0hJ-----END PRIVATE KEY-----";
        assert_eq!(
            normalise_pem(one_line),
            "-----BEGIN CERTIFICATE-----\nQUJDREVG\n-----END CERTIFICATE-----\n\
             -----BEGIN PRIVATE KEY-----\nR0hJ\n-----END PRIVATE KEY-----\n"
        );
    }

    #[test]
    fn jks_files_and_missing_keystores_are_refused_by_name() {
        let jks = check_not_jks(
            &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2],
            "ssl.keystore.location",
            Path::new("/k.jks"),
        );
        assert!(jks.unwrap_err().to_string().contains("JKS"));
        let settings = KeyStoreSettings {
            store_type: StoreType::Jks,
            location: None,
            password: None,
            key_password: None,
            key: None,
            certificate_chain: None,
        };
        let e = load_key_store(&settings).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("ssl.keystore.location")));
    }
}
