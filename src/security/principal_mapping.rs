//! `ssl.principal.mapping.rules`: how a client certificate's subject (RFC 2253, e.g.
//! `CN=alice,OU=eng,O=Example`) becomes the name of the principal `User:<name>`, with Kafka's
//! rule language:
//!
//! - `DEFAULT`: the whole subject, unchanged (the default);
//! - `RULE:pattern/replacement/` with an optional `L` or `U` after the last `/`: when `pattern`
//!   matches the whole subject, every match of it in the subject is replaced by `replacement`
//!   (`$1` a group, `\x` a literal `x`), then lower- or upper-cased. Inside the pattern and the
//!   replacement, `\` escapes the next character, so `\/` is a slash and `\,` a comma.
//!
//! Rules are separated by commas (with optional spaces) and tried in order; the first that matches
//! names the principal. When none matches, Kafka fails the authentication, and so does Milena
//! (the connection is closed). Patterns are Rust `regex` syntax, which agrees with Java's for
//! what such rules use (groups, classes, lazy quantifiers); a pattern using what `regex` lacks
//! (look-around, back-references) stops start-up with the key named.

use regex::{Captures, Regex};

/// The parsed rules of one listener.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    /// The rules as configured: two mappers are equal when their texts are.
    text: String,
    rules: Vec<Rule>,
}

impl PartialEq for PrincipalMapper {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        /// The pattern as written, for `replace_all`.
        pattern: Regex,
        /// The same pattern anchored at both ends: a rule applies only to a whole-subject match.
        whole: Regex,
        replacement: String,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

impl Default for PrincipalMapper {
    fn default() -> Self {
        PrincipalMapper {
            text: "DEFAULT".into(),
            rules: vec![Rule::Default],
        }
    }
}

impl PrincipalMapper {
    /// Parses `ssl.principal.mapping.rules`; the error says what is wrong with which rule.
    pub fn parse(text: &str) -> Result<PrincipalMapper, String> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            let (rule, after) = next_rule(rest)?;
            rules.extend(rule);
            rest = after;
        }
        Ok(PrincipalMapper {
            text: text.trim().to_string(),
            rules,
        })
    }

    /// The principal name for a certificate subject, or `None` when no rule applies.
    pub fn name(&self, subject: &str) -> Option<String> {
        self.rules.iter().find_map(|rule| rule.apply(subject))
    }
}

impl Rule {
    fn apply(&self, subject: &str) -> Option<String> {
        match self {
            Rule::Default => Some(subject.to_string()),
            Rule::Replace {
                pattern,
                whole,
                replacement,
                case,
            } => {
                if !whole.is_match(subject) {
                    return None;
                }
                let groups = pattern.captures_len() - 1;
                let mapped = pattern
                    .replace_all(subject, |caps: &Captures<'_>| {
                        expand_java_replacement(replacement, caps, groups)
                    })
                    .into_owned();
                Some(match case {
                    Case::Keep => mapped,
                    Case::Lower => mapped.to_lowercase(),
                    Case::Upper => mapped.to_uppercase(),
                })
            }
        }
    }
}

/// One rule from the front of `text` (already trimmed at the front), and what follows its
/// separating comma. An empty rule (two commas in a row) yields `None`.
fn next_rule(text: &str) -> Result<(Option<Rule>, &str), String> {
    let (rule, after) = if let Some(after) = text.strip_prefix("DEFAULT") {
        (Some(Rule::Default), after)
    } else if let Some(body) = text.strip_prefix("RULE:") {
        let (pattern, after) = until_unescaped_slash(body)
            .ok_or_else(|| format!("`{text}`: a RULE needs pattern/replacement/"))?;
        let (replacement, after) = until_unescaped_slash(after)
            .ok_or_else(|| format!("`{text}`: a RULE needs pattern/replacement/"))?;
        let (case, after) = match after.as_bytes().first() {
            Some(b'L') => (Case::Lower, &after[1..]),
            Some(b'U') => (Case::Upper, &after[1..]),
            _ => (Case::Keep, after),
        };
        let compile = |source: &str| {
            Regex::new(source).map_err(|e| format!("`{text}`: the pattern does not compile: {e}"))
        };
        let rule = Rule::Replace {
            pattern: compile(pattern)?,
            whole: compile(&format!("^(?:{pattern})$"))?,
            replacement: replacement.to_string(),
            case,
        };
        (Some(rule), after)
    } else {
        // Anything else is a rule only if it is empty.
        let end = text.find(',').unwrap_or(text.len());
        if !text[..end].trim().is_empty() {
            return Err(format!(
                "invalid rule `{}` (rules are DEFAULT or RULE:pattern/replacement/[LU])",
                text[..end].trim()
            ));
        }
        (None, &text[end..])
    };
    let after = after.trim_start();
    match after.strip_prefix(',') {
        Some(next) => Ok((rule, next.trim_start())),
        None if after.is_empty() => Ok((rule, after)),
        None => Err(format!(
            "invalid rule `{}`: unexpected `{}` after it",
            text[..text.len() - after.len()].trim(),
            after.split(',').next().unwrap_or(after)
        )),
    }
}

/// The text up to the first `/` not escaped by `\` (escapes kept as written), and what follows
/// that slash; `None` without such a slash.
fn until_unescaped_slash(text: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '/' => return Some((&text[..at], &text[at + 1..])),
            _ => {}
        }
    }
    None
}

/// A Java `Matcher.replaceAll` replacement, as Kafka uses it: `\x` is a literal `x`; `$n` is
/// group n, reading further digits while the number stays a group (so `$12` is group 1 then `2`
/// when there are fewer than 12 groups); `${name}` is a named group; a `$` that names no group
/// is kept literally (Kafka escapes such references before replacing).
fn expand_java_replacement(replacement: &str, caps: &Captures<'_>, groups: usize) -> String {
    let mut out = String::new();
    let mut rest = replacement;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\\' => {
                if let Some(next) = rest.chars().next() {
                    out.push(next);
                    rest = &rest[next.len_utf8()..];
                }
            }
            '$' => {
                let named = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .and_then(|(name, after)| Some((caps.name(name)?, after)));
                if let Some((group, after)) = named {
                    out.push_str(group.as_str());
                    rest = after;
                    continue;
                }
                // The longest run of the digits that still names a group, as Java reads it.
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                let mut group = None;
                for len in 1..=digits {
                    match rest[..len].parse::<usize>() {
                        Ok(n) if n <= groups => group = Some((n, len)),
                        _ => break,
                    }
                }
                match group {
                    Some((n, len)) => {
                        out.push_str(caps.get(n).map_or("", |m| m.as_str()));
                        rest = &rest[len..];
                    }
                    None => out.push('$'),
                }
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rules: &str, subject: &str) -> Option<String> {
        PrincipalMapper::parse(rules).unwrap().name(subject)
    }

    #[test]
    fn default_keeps_the_whole_subject() {
        assert_eq!(
            map("DEFAULT", "CN=alice,O=Example").as_deref(),
            Some("CN=alice,O=Example")
        );
        assert_eq!(
            PrincipalMapper::default().name("CN=a").as_deref(),
            Some("CN=a")
        );
    }

    // The examples of Kafka's documentation of ssl.principal.mapping.rules.
    #[test]
    fn kafka_documentation_examples() {
        let rules = r"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT";
        assert_eq!(
            map(
                rules,
                "CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
            )
            .as_deref(),
            Some("serviceuser")
        );
        assert_eq!(
            map(
                rules,
                "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
            )
            .as_deref(),
            Some("adminuser@admin")
        );
        assert_eq!(
            map(rules, "CN=Kafka-Client-1,O=Acme").as_deref(),
            Some("kafka")
        );
        assert_eq!(map(rules, "O=Acme").as_deref(), Some("O=Acme"));
    }

    #[test]
    fn upper_case_escapes_spaces_and_empty_rules() {
        assert_eq!(
            map(
                r" RULE:^CN=(.*?),O=(.*)$/$1\/$2/U , DEFAULT ",
                "CN=bob,O=Ex"
            )
            .as_deref(),
            Some("BOB/EX")
        );
        assert_eq!(
            map("RULE:^CN=([^,]*)(,.*)?$/$1/,,", "CN=carol").as_deref(),
            Some("carol")
        );
        // A comma inside the pattern belongs to the rule.
        assert_eq!(
            map("RULE:^CN=(.*),O=x$/$1/", "CN=dave,O=x").as_deref(),
            Some("dave")
        );
    }

    #[test]
    fn no_matching_rule_is_none() {
        assert_eq!(map("RULE:^CN=(.*?),OU=Svc$/$1/", "CN=eve,OU=Other"), None);
        // A partial match is not a match: the pattern must cover the subject.
        assert_eq!(map("RULE:CN=(\\w+)/$1/", "CN=eve,OU=Other"), None);
        assert_eq!(map("", "CN=eve"), None);
    }

    #[test]
    fn java_replacement_references() {
        // $12 with one group is group 1 then "2"; $3 with one group is literal; \$ is a dollar.
        assert_eq!(
            map(r"RULE:^CN=(\w+)$/$12-$3-\$1/", "CN=x").as_deref(),
            Some("x2-$3-$1")
        );
        assert_eq!(
            map(r"RULE:^CN=(?P<user>\w+)$/u:${user}/", "CN=y").as_deref(),
            Some("u:y")
        );
        assert_eq!(
            map(r"RULE:^CN=(\w+)$/$0!/", "CN=z").as_deref(),
            Some("CN=z!")
        );
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            "RULE:^CN=(.*)$",
            "RULE:^CN=(.*)$/$1",
            "RULE:^CN=(.*)$/$1/X",
            "nonsense",
            "DEFAULTX",
            "RULE:(?<=CN=)(.*)/$1/",
            "RULE:^CN=((.*)$/$1/",
        ] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad}");
        }
    }
}
