//! Parser for the Java `.properties` text format, the format of Kafka's `server.properties`.
//!
//! Follows the rules of `java.util.Properties.load`, so that a file written for Apache Kafka means the
//! same thing here:
//! - a natural line ends at `\n`, `\r` or `\r\n`; leading blanks (space, tab, form feed) are skipped;
//! - a line whose first non-blank character is `#` or `!` is a comment, and a comment never continues;
//! - a line ending in an odd number of backslashes continues on the next line, whose leading blanks are
//!   dropped;
//! - the key ends at the first unescaped `=`, `:` or blank; blanks around that separator are skipped,
//!   the rest of the line is the value (trailing blanks kept);
//! - escapes `\t \n \r \f \uXXXX` are decoded, and any other escaped character stands for itself
//!   (`\\`, `\=`, `\:`, `\ `, `\#`).
//!
//! The result keeps file order and duplicates; a caller that applies pairs in order gets Java's
//! "last one wins".

use super::ConfigError;

/// Parses properties text into `(key, value)` pairs in file order.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    let mut lines = NaturalLines::new(text);
    while let Some((line_no, first)) = lines.next_line() {
        let first = trim_leading_blanks(first);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::from(first);
        // Continuation: keep joining while the logical line ends in an odd run of backslashes.
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next_line() {
                Some((_, next)) => logical.push_str(trim_leading_blanks(next)),
                None => break,
            }
        }
        pairs.push(split_key_value(&logical, line_no)?);
    }
    Ok(pairs)
}

/// Reads a properties file as text. Kafka reads these files as ISO-8859-1; valid UTF-8 is taken as
/// UTF-8 (what modern editors write), anything else falls back to ISO-8859-1 so no file is refused.
pub fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Iterates natural lines with their 1-based line numbers.
struct NaturalLines<'a> {
    rest: &'a str,
    line_no: usize,
}

impl<'a> NaturalLines<'a> {
    fn new(text: &'a str) -> Self {
        NaturalLines {
            rest: text,
            line_no: 0,
        }
    }

    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        if self.rest.is_empty() {
            return None;
        }
        self.line_no += 1;
        let end = self.rest.find(['\n', '\r']).unwrap_or(self.rest.len());
        let line = &self.rest[..end];
        let mut after = &self.rest[end..];
        if let Some(stripped) = after.strip_prefix("\r\n") {
            after = stripped;
        } else if !after.is_empty() {
            after = &after[1..];
        }
        self.rest = after;
        Some((self.line_no, line))
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

fn trim_leading_blanks(s: &str) -> &str {
    s.trim_start_matches(is_blank)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits one logical line into its unescaped key and value.
fn split_key_value(line: &str, line_no: usize) -> Result<(String, String), ConfigError> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut key_end = chars.len();
    let mut value_start = chars.len();
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 2;
            continue;
        }
        if c == '=' || c == ':' {
            key_end = i;
            value_start = i + 1;
            break;
        }
        if is_blank(c) {
            key_end = i;
            // Blanks, then at most one '=' or ':' separator, then blanks again.
            let mut j = i;
            while j < chars.len() && is_blank(chars[j]) {
                j += 1;
            }
            if j < chars.len() && (chars[j] == '=' || chars[j] == ':') {
                j += 1;
            }
            value_start = j;
            break;
        }
        i += 1;
    }
    let key_end = key_end.min(chars.len());
    let mut value_start = value_start.min(chars.len());
    while value_start < chars.len() && is_blank(chars[value_start]) {
        value_start += 1;
    }
    let key = unescape(&chars[..key_end], line_no)?;
    let value = unescape(&chars[value_start..], line_no)?;
    Ok((key, value))
}

fn unescape(chars: &[char], line_no: usize) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&escaped) = chars.get(i) else {
            // A lone trailing backslash (continuation at end of input) is dropped, as Java does.
            break;
        };
        i += 1;
        match escaped {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars
                    .get(i..i + 4)
                    .map(|h| h.iter().collect())
                    .unwrap_or_default();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| ConfigError::Syntax {
                        line: line_no,
                        reason: format!("malformed \\uXXXX escape \"\\u{hex}\""),
                    })?;
                i += 4;
                // Lone surrogate halves cannot be a Rust char; Java would keep them, we substitute.
                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).expect("test input parses")
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn separators_equals_colon_and_blank() {
        assert_eq!(
            pairs("a=1\nb:2\nc 3\nd = 4\ne : 5\nf\t\t6\n"),
            vec![
                kv("a", "1"),
                kv("b", "2"),
                kv("c", "3"),
                kv("d", "4"),
                kv("e", "5"),
                kv("f", "6")
            ]
        );
    }

    #[test]
    fn blank_then_separator_is_one_separator() {
        // Only the first '=' after the blanks is a separator; the second belongs to the value.
        assert_eq!(pairs("key  ==v"), vec![kv("key", "=v")]);
        assert_eq!(pairs("key = a=b"), vec![kv("key", "a=b")]);
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# a comment\n! another\n   # indented comment\n\n   \nkey=value\n";
        assert_eq!(pairs(text), vec![kv("key", "value")]);
    }

    #[test]
    fn hash_inside_value_is_not_a_comment() {
        assert_eq!(
            pairs("k=v # not a comment"),
            vec![kv("k", "v # not a comment")]
        );
    }

    #[test]
    fn leading_whitespace_is_ignored_and_trailing_kept() {
        assert_eq!(pairs("   \t key=value  "), vec![kv("key", "value  ")]);
    }

    #[test]
    fn key_without_value() {
        assert_eq!(
            pairs("lonely\nempty=\n"),
            vec![kv("lonely", ""), kv("empty", "")]
        );
    }

    #[test]
    fn continuation_lines_are_joined_without_leading_blanks() {
        let text = "listeners=PLAINTEXT://:9092,\\\n    CONTROLLER://:9093\nnext=1";
        assert_eq!(
            pairs(text),
            vec![
                kv("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"),
                kv("next", "1")
            ]
        );
    }

    #[test]
    fn even_backslashes_do_not_continue() {
        assert_eq!(
            pairs("path=c:\\\\\nx=1"),
            vec![kv("path", "c:\\"), kv("x", "1")]
        );
    }

    #[test]
    fn comment_lines_do_not_continue() {
        assert_eq!(pairs("# comment \\\nkey=v"), vec![kv("key", "v")]);
    }

    #[test]
    fn continuation_at_end_of_input_is_dropped() {
        assert_eq!(pairs("key=abc\\"), vec![kv("key", "abc")]);
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(
            pairs(r"k=a\tb\nc\\d\=e\:f\u0041\u00e9\ g"),
            vec![kv("k", "a\tb\nc\\d=e:fAé g")]
        );
    }

    #[test]
    fn escaped_separators_stay_in_the_key() {
        assert_eq!(pairs(r"a\=b\:c\ d=v"), vec![kv("a=b:c d", "v")]);
    }

    #[test]
    fn crlf_and_cr_line_endings() {
        assert_eq!(
            pairs("a=1\r\nb=2\rc=3"),
            vec![kv("a", "1"), kv("b", "2"), kv("c", "3")]
        );
    }

    #[test]
    fn duplicates_are_kept_in_order() {
        assert_eq!(pairs("a=1\na=2"), vec![kv("a", "1"), kv("a", "2")]);
    }

    #[test]
    fn malformed_unicode_escape_is_an_error_with_line_number() {
        let err = parse("ok=1\nbad=\\u12G4").expect_err("must fail");
        assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{err}");
        assert!(parse("bad=\\u12").is_err());
    }

    #[test]
    fn decode_falls_back_to_latin1() {
        assert_eq!(decode(b"k=caf\xe9"), "k=café");
        assert_eq!(decode("k=café".as_bytes()), "k=café");
    }
}
