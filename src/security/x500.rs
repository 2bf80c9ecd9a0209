//! The subject of a client certificate as Kafka names it: Java's `X500Principal.getName()`, the
//! RFC 2253 form (`CN=alice,OU=eng,O=Example`), which Kafka's default principal builder
//! (`ssl.principal.mapping.rules=DEFAULT`) turns into `User:<name>`.
//!
//! Java's rules, reproduced here so that ACLs written for Kafka match the same principals:
//! - relative distinguished names in reverse order of the certificate's encoding, joined by `,`;
//!   several attributes of one RDN joined by `+`, in encoding order;
//! - keywords only for CN, C, L, ST, O, OU, STREET, DC and UID; any other attribute is written as
//!   its dotted OID with `#` and the hex (lower case) of the value's DER encoding;
//! - values of the string types UTF8String, PrintableString, T61String, IA5String, GeneralString
//!   and BMPString are text; any other value type is written as hex like an unknown attribute;
//! - in text, `, = + < > # ; " \` get a backslash, NUL becomes `\00`, and leading or trailing
//!   spaces (and carriage returns) get a backslash; other characters are written as they are.
//!
//! The certificate is parsed by `x509-parser`; nothing here reads DER by hand.

use x509_parser::asn1_rs::{Tag, ToDer};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// The RFC 2253 subject name of a DER certificate, or `None` if it does not parse.
pub fn subject_name(certificate_der: &[u8]) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(certificate_der).ok()?;
    Some(rfc2253(cert.subject()))
}

/// Java's `X500Principal.getName()` of `name`.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| rdn.iter().map(attribute).collect::<Vec<_>>().join("+"))
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// Keywords Java uses in RFC 2253 names, by attribute OID.
const KEYWORDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.9", "STREET"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

fn attribute(ava: &AttributeTypeAndValue<'_>) -> String {
    let oid = ava.attr_type().to_id_string();
    let keyword = KEYWORDS.iter().find(|(o, _)| *o == oid).map(|(_, k)| *k);
    let value = ava.attr_value();
    let text = keyword.and_then(|_| decode_text(value.tag(), value.data));
    match (keyword, text) {
        (Some(keyword), Some(text)) => format!("{keyword}={}", escape(&text)),
        (keyword, _) => {
            let der = value.to_der_vec().unwrap_or_default();
            let hex: String = der.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}=#{hex}", keyword.unwrap_or(&oid))
        }
    }
}

/// The text of a DirectoryString value, decoded with the character set Java uses for its tag.
fn decode_text(tag: Tag, data: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String => Some(String::from_utf8_lossy(data).into_owned()),
        // Java reads these as ISO-8859-1: each byte is one character.
        Tag::PrintableString | Tag::T61String | Tag::Ia5String | Tag::GeneralString => {
            Some(data.iter().map(|&b| char::from(b)).collect())
        }
        Tag::BmpString => {
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            let mut text: String = char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            if data.len() % 2 == 1 {
                text.push(char::REPLACEMENT_CHARACTER);
            }
            Some(text)
        }
        _ => None,
    }
}

fn escape(value: &str) -> String {
    let mut escaped: Vec<(bool, char)> = Vec::with_capacity(value.len());
    for c in value.chars() {
        match c {
            ',' | '=' | '+' | '<' | '>' | '#' | ';' | '"' | '\\' => escaped.push((true, c)),
            '\0' => {
                escaped.push((true, '0'));
                escaped.push((false, '0'));
            }
            _ => escaped.push((false, c)),
        }
    }
    let blank = |&(esc, c): &(bool, char)| !esc && (c == ' ' || c == '\r');
    let lead = escaped.iter().take_while(|e| blank(e)).count();
    let trail = escaped.iter().rev().take_while(|e| blank(e)).count();
    let len = escaped.len();
    let mut out = String::with_capacity(len + 4);
    for (i, (esc, c)) in escaped.into_iter().enumerate() {
        if esc || i < lead || i >= len - trail {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made with `openssl req -x509 -multivalue-rdn -subj "/DC=org/DC=example/C=GB/
    /// ST=Some State/L=Town/O=Example, Inc./OU=eng+UID=42/CN= alice #1 <a;b>/
    /// emailAddress=alice@example.org"`.
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIC/zCCAqWgAwIBAgIUESeFwIsQlAYIzmTyRimUY4fAP6QwCgYIKoZIzj0EAwIw\ngdMxEzARBgoJkiaJk/IsZAEZFgNvcmcxFzAVBgoJkiaJk/IsZAEZFgdleGFtcGxl\nMQswCQYDVQQGEwJHQjETMBEGA1UECAwKU29tZSBTdGF0ZTENMAsGA1UEBwwEVG93\nbjEWMBQGA1UECgwNRXhhbXBsZSwgSW5jLjEeMAoGA1UECwwDZW5nMBAGCgmSJomT\n8ixkAQEMAjQyMRgwFgYDVQQDDA8gYWxpY2UgIzEgPGE7Yj4xIDAeBgkqhkiG9w0B\nCQEWEWFsaWNlQGV4YW1wbGUub3JnMCAXDTI2MTIwNTIzMzczOVoYDzIxMjYxMTEx\nMjMzNzM5WjCB0zETMBEGCgmSJomT8ixkARkWA29yZzEXMBUGCgmSJomT8ixkARkW\nB2V4YW1wbGUxCzAJBgNVBAYTAkdCMRMwEQYDVQQIDApTb21lIFN0YXRlMQ0wCwYD\nVQQHDARUb3duMRYwFAYDVQQKDA1FeGFtcGxlLCBJbmMuMR4wCgYDVQQLDANlbmcw\nEAYKCZImiZPyLGQBAQwCNDIxGDAWBgNVBAMMDyBhbGljZSAjMSA8YTtiPjEgMB4G\nCSqGSIb3DQEJARYRYWxpY2VAZXhhbXBsZS5vcmcwWTATBgcqhkjOPQIBBggqhkjO\nPQMBBwNCAASiD7OZNJdO5NhtYQrZITlPaSXUZxM/VdYgGm2fmJn9kSNk/+OwMXOl\nx+M68GpSJGRnvHNR9tPjByvwvOPEm9C0o1MwUTAdBgNVHQ4EFgQUZyYHGh5TMoZc\nzMCD8CkAgFZ4GAIwHwYDVR0jBBgwFoAUZyYHGh5TMoZczMCD8CkAgFZ4GAIwDwYD\nVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiBde0TxctXrfDlyIfpwAy9o\nCCszaPqoImhJy5eykm+9JAIhAI8yHMAkVmyVSxnKZa6NmP8YOY1Y2qKb9HpZBsAx\nF6Fd\n-----END CERTIFICATE-----";

    /// What Java 17's `X500Principal.getName()` printed for [`CERT`].
    const JAVA_NAME: &str = "1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e6f7267,\
        CN=\\ alice \\#1 \\<a\\;b\\>,OU=eng+UID=42,O=Example\\, Inc.,L=Town,ST=Some State,C=GB,\
        DC=example,DC=org";

    fn cert_der() -> Vec<u8> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::CertificateDer::from_pem_slice(CERT.as_bytes())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn subject_names_match_java() {
        assert_eq!(subject_name(&cert_der()).as_deref(), Some(JAVA_NAME));
    }

    #[test]
    fn damaged_certificates_never_panic() {
        let der = cert_der();
        for len in 0..der.len() {
            let _ = subject_name(&der[..len]);
        }
        for at in 0..der.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = der.clone();
                bad[at] ^= flip;
                let _ = subject_name(&bad);
            }
        }
    }

    #[test]
    fn escapes_as_java_does() {
        assert_eq!(escape("alice"), "alice");
        assert_eq!(escape("a,b=c+d"), "a\\,b\\=c\\+d");
        assert_eq!(escape("#x;\"<>\\"), "\\#x\\;\\\"\\<\\>\\\\");
        assert_eq!(escape(" pad  "), "\\ pad\\ \\ ");
        assert_eq!(escape("a\0b"), "a\\00b");
        assert_eq!(escape("   "), "\\ \\ \\ ");
        assert_eq!(escape("Zoë"), "Zoë");
    }

    #[test]
    fn bmp_strings_decode_as_utf16() {
        assert_eq!(
            decode_text(Tag::BmpString, &[0, b'h', 0, b'i']).as_deref(),
            Some("hi")
        );
        assert_eq!(
            decode_text(Tag::BmpString, &[0, b'h', 0]).as_deref(),
            Some("h\u{fffd}")
        );
        assert_eq!(decode_text(Tag::Integer, &[1]), None);
    }
}
