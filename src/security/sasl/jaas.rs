//! The JAAS configuration syntax Kafka reads from `sasl.jaas.config` values:
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" user_alice="alice-secret";
//! ```
//!
//! One login module: its class name, a control flag (`required`, `requisite`, `sufficient`,
//! `optional`), then `name=value` options and a closing `;`. Values are bare words or
//! double-quoted strings with backslash escapes; `//` and `/* */` comments are skipped, as
//! Java's tokenizer does for Kafka. Errors never quote a value (values hold passwords).

use std::collections::BTreeMap;

/// One parsed login module.
#[derive(Clone, PartialEq, Eq)]
pub struct JaasLoginModule {
    pub class_name: String,
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for JaasLoginModule {
    /// Option values stay hidden: they are passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JaasLoginModule")
            .field("class_name", &self.class_name)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '=' => tokens.push(Token::Equals),
            ';' => tokens.push(Token::Semicolon),
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                let mut closed = false;
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    last = c;
                }
                if !closed {
                    return Err("unterminated comment".into());
                }
            }
            '"' => {
                let mut value = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(other) => value.push(other),
                            None => break,
                        },
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err("unterminated quoted value".into());
                }
                tokens.push(Token::Quoted(value));
            }
            c => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '=' | ';' | '"') {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// Parses a `sasl.jaas.config` value: exactly one login module, as Kafka requires.
pub fn parse(text: &str) -> Result<JaasLoginModule, String> {
    let tokens = tokenize(text)?;
    let mut it = tokens.into_iter().peekable();
    let mut modules = Vec::new();
    while it.peek().is_some() {
        let class_name = match it.next() {
            Some(Token::Word(w)) => w,
            _ => return Err("expected a login module class name".into()),
        };
        let flag = match it.next() {
            Some(Token::Word(w))
                if ["required", "requisite", "sufficient", "optional"]
                    .contains(&w.to_ascii_lowercase().as_str()) =>
            {
                w.to_ascii_lowercase()
            }
            _ => {
                return Err(format!(
                "login module {class_name}: expected a control flag (required, requisite, sufficient, optional)"
            ))
            }
        };
        let mut options = BTreeMap::new();
        loop {
            match it.next() {
                Some(Token::Semicolon) => break,
                Some(Token::Word(name)) => {
                    if it.next() != Some(Token::Equals) {
                        return Err(format!("option {name}: expected '=' after the name"));
                    }
                    let value = match it.next() {
                        Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                        _ => return Err(format!("option {name}: expected a value")),
                    };
                    options.insert(name, value);
                }
                None => return Err("the login module does not end with ';'".into()),
                Some(_) => return Err("expected an option name or ';'".into()),
            }
        }
        modules.push(JaasLoginModule {
            class_name,
            flag,
            options,
        });
    }
    match modules.len() {
        1 => Ok(modules.remove(0)),
        n => Err(format!(
            "JAAS config property contains {n} login modules, should be 1 module"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_plain_line_with_quotes_escapes_and_comments() {
        let m = parse(
            "org.apache.kafka.common.security.plain.PlainLoginModule required\n\
             username=\"admin\" password=\"admin-secret\" /* a comment */\n\
             user_admin=\"admin-secret\" user_alice=\"al\\\"ice; =secret\" user_bob=bare-word;",
        )
        .unwrap();
        assert_eq!(
            m.class_name,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(m.flag, "required");
        assert_eq!(m.options["user_alice"], "al\"ice; =secret");
        assert_eq!(m.options["user_bob"], "bare-word");
        assert_eq!(m.options["username"], "admin");
        assert!(!format!("{m:?}").contains("secret"));
    }

    #[test]
    fn refuses_malformed_lines() {
        for bad in [
            "",
            "X required a=\"b\"",
            "X required a=;",
            "X maybe;",
            "X required a=\"b;",
            "X required; Y required;",
            "X required a \"b\";",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse("X REQUIRED;").unwrap().options.is_empty());
    }
}
