//! A throw-away PKI for TLS tests: a CA, a broker certificate (localhost, 127.0.0.1) and a
//! client certificate, made with openssl (and keytool where a test asks for Java's stores).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::*;

pub const PASSWORD: &str = "store-secret-1";

/// A CA, a broker certificate (localhost, 127.0.0.1) and a client certificate, as files.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("milena-tls-")
            .tempdir()
            .unwrap();
        let pki = Pki { dir };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Milena Test CA",
        ]);
        write_file(
            pki.path(),
            "broker.ext",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        );
        write_file(
            pki.path(),
            "client.ext",
            "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
        );
        pki.leaf("broker", "/CN=localhost");
        // A subject with an escaped comma and a multi-valued RDN, to compare with Java's name.
        pki.leaf("client", "/C=GB/O=Example, Inc./OU=eng+UID=42/CN=alice");
        for who in ["broker", "client"] {
            pki.openssl(&[
                "pkcs12",
                "-export",
                "-in",
                &format!("{who}.pem"),
                "-inkey",
                &format!("{who}.key"),
                "-certfile",
                "ca.pem",
                "-name",
                who,
                "-out",
                &format!("{who}-openssl.p12"),
                "-passout",
                &format!("pass:{PASSWORD}"),
            ]);
        }
        pki
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, name: &str) -> String {
        self.path().join(name).display().to_string()
    }

    pub fn openssl(&self, args: &[&str]) {
        let out = run_with_timeout(
            Command::new("openssl").args(args).current_dir(self.path()),
            None,
            Duration::from_secs(30),
        )
        .unwrap();
        assert_success(&out, &format!("openssl {args:?}"));
    }

    pub fn keytool(&self, args: &[&str]) {
        let out = run_with_timeout(
            Command::new("keytool").args(args).current_dir(self.path()),
            None,
            Duration::from_secs(60),
        )
        .unwrap();
        assert_success(&out, &format!("keytool {args:?}"));
    }

    /// `<name>.key` and `<name>.pem`, signed by the CA with `<name>.ext`.
    pub fn leaf(&self, name: &str, subject: &str) {
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            subject,
            "-multivalue-rdn",
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    /// A PKCS12 truststore with the CA, written by keytool (what Java clients use).
    pub fn keytool_truststore(&self) -> String {
        self.keytool(&[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            "ca.pem",
            "-keystore",
            "truststore.p12",
            "-storetype",
            "PKCS12",
            "-storepass",
            PASSWORD,
        ]);
        self.file("truststore.p12")
    }

    /// The broker's openssl keystore rewritten by keytool (Java's own PKCS12 writer).
    pub fn keytool_keystore(&self, who: &str) -> String {
        let dest = format!("{who}-keytool.p12");
        self.keytool(&[
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            &format!("{who}-openssl.p12"),
            "-srcstoretype",
            "PKCS12",
            "-srcstorepass",
            PASSWORD,
            "-destkeystore",
            &dest,
            "-deststoretype",
            "PKCS12",
            "-deststorepass",
            PASSWORD,
        ]);
        self.file(&dest)
    }

    /// A Java client properties file for SSL with the keytool truststore (and a keystore).
    pub fn client_properties(&self, truststore: &str, keystore: Option<&str>) -> String {
        let mut text = format!(
            "security.protocol=SSL\nssl.truststore.location={truststore}\nssl.truststore.password={PASSWORD}\nssl.truststore.type=PKCS12\n"
        );
        if let Some(k) = keystore {
            text.push_str(&format!(
                "ssl.keystore.location={k}\nssl.keystore.password={PASSWORD}\nssl.keystore.type=PKCS12\n"
            ));
        }
        let name = format!("client-{}.properties", keystore.is_some());
        write_file(self.path(), &name, &text).display().to_string()
    }
}
