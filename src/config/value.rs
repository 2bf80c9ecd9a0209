//! Typed values: the Kafka config types, their validators, and the canonical text of a value.
//!
//! Kafka parses every config string by its declared type (trimmed, booleans case-insensitive, lists
//! split on commas) and reports it back in a canonical form (`" TRUE "` comes back as `true`,
//! `"a , b"` as `a,b`, `1` for a DOUBLE as `1.0`). DescribeConfigs answers must show the same text,
//! so validation and canonicalisation are one step here.

use super::ConfigError;

/// A Kafka `ConfigDef.Type`; the discriminant is the `config_type` code of DescribeConfigs v3+.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

impl ConfigType {
    /// The DescribeConfigs `config_type` code.
    pub fn code(self) -> i8 {
        self as i8
    }
}

/// The validator attached to a key, beyond its type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Check {
    /// Any value of the type.
    Any,
    /// An integer no smaller than the bound.
    AtLeast(i64),
    /// An integer within the inclusive bounds.
    Between(i64, i64),
    /// A floating-point number within the inclusive bounds.
    Fraction(f64, f64),
    /// A string that is exactly one of these (case-sensitive, as in Kafka).
    OneOf(&'static [&'static str]),
    /// A list whose every element is one of these.
    ListOf(&'static [&'static str]),
    /// gzip levels: 1..=9, or -1 for the library default.
    GzipLevel,
    /// `*`, or a list of `partition:broker` pairs (replication throttling).
    ThrottledReplicas,
    /// A list that must not be empty nor repeat an element (`log.dirs`).
    NonEmptyUniqueList,
}

/// Validates `raw` as a value of `kind` passing `check`, and returns its canonical text.
pub(crate) fn canonical(
    key: &str,
    kind: ConfigType,
    check: Check,
    raw: &str,
) -> Result<String, ConfigError> {
    let trimmed = raw.trim();
    let bad = |reason: String| ConfigError::invalid(key, raw, reason);
    match kind {
        ConfigType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            v @ ("true" | "false") => Ok(v.to_string()),
            _ => Err(bad("expected true or false".into())),
        },
        ConfigType::Int | ConfigType::Short | ConfigType::Long => {
            let (lo, hi, name) = match kind {
                ConfigType::Int => (i32::MIN as i64, i32::MAX as i64, "a 32-bit integer"),
                ConfigType::Short => (i16::MIN as i64, i16::MAX as i64, "a 16-bit integer"),
                _ => (i64::MIN, i64::MAX, "a 64-bit integer"),
            };
            let n: i64 = trimmed
                .parse()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or_else(|| bad(format!("expected {name}")))?;
            check_integer(n, check).map_err(bad)?;
            Ok(n.to_string())
        }
        ConfigType::Double => {
            let f: f64 = trimmed
                .parse()
                .ok()
                .filter(|f: &f64| f.is_finite())
                .ok_or_else(|| bad("expected a number".into()))?;
            if let Check::Fraction(lo, hi) = check {
                if !(lo..=hi).contains(&f) {
                    return Err(bad(format!("must be between {lo} and {hi}")));
                }
            }
            Ok(java_double(f))
        }
        ConfigType::List => {
            let items = split_list(trimmed);
            check_list(&items, check).map_err(bad)?;
            Ok(items.join(","))
        }
        ConfigType::String | ConfigType::Class | ConfigType::Password => {
            if let Check::OneOf(allowed) = check {
                if !allowed.contains(&trimmed) {
                    return Err(bad(format!("must be one of {}", allowed.join(", "))));
                }
            }
            Ok(trimmed.to_string())
        }
    }
}

/// Splits a Kafka LIST value: comma separated, blanks around commas dropped, empty text = empty list.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    text.split(',').map(|s| s.trim().to_string()).collect()
}

fn check_integer(n: i64, check: Check) -> Result<(), String> {
    match check {
        Check::AtLeast(lo) if n < lo => Err(format!("must be at least {lo}")),
        Check::Between(lo, hi) if !(lo..=hi).contains(&n) => {
            Err(format!("must be between {lo} and {hi}"))
        }
        Check::GzipLevel if !(n == -1 || (1..=9).contains(&n)) => {
            Err("must be -1 or between 1 and 9".into())
        }
        _ => Ok(()),
    }
}

fn check_list(items: &[String], check: Check) -> Result<(), String> {
    match check {
        Check::ListOf(allowed) => match items.iter().find(|i| !allowed.contains(&i.as_str())) {
            Some(bad) => Err(format!("{bad:?} is not one of {}", allowed.join(", "))),
            None => Ok(()),
        },
        Check::ThrottledReplicas => {
            let wildcard = items.len() == 1 && items[0] == "*";
            let pairs_ok = items.iter().all(|i| {
                i.split_once(':')
                    .is_some_and(|(p, b)| is_digits(p) && is_digits(b))
            });
            if wildcard || pairs_ok {
                Ok(())
            } else {
                Err("expected * or a list of partition:broker pairs".into())
            }
        }
        Check::NonEmptyUniqueList => {
            if items.is_empty() || items.iter().any(|i| i.is_empty()) {
                return Err("must list at least one non-empty entry".into());
            }
            match items
                .iter()
                .enumerate()
                .find(|(n, i)| items[..*n].contains(i))
            {
                Some((_, dup)) => Err(format!("{dup:?} is listed twice")),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Formats a double the way Java's `Double.toString` does for the values configs use
/// (`0.5`, `1.0`, `1.0E-5`), since that text is what Kafka reports.
fn java_double(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{f:E}");
        match s.split_once('E') {
            Some((mantissa, exp)) if !mantissa.contains('.') => format!("{mantissa}.0E{exp}"),
            _ => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(kind: ConfigType, check: Check, raw: &str) -> String {
        canonical("k", kind, check, raw).expect("valid")
    }

    fn err(kind: ConfigType, check: Check, raw: &str) -> String {
        canonical("some.key", kind, check, raw)
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn booleans_are_case_insensitive_and_trimmed() {
        assert_eq!(ok(ConfigType::Boolean, Check::Any, " TRUE "), "true");
        assert_eq!(ok(ConfigType::Boolean, Check::Any, "False"), "false");
        assert!(err(ConfigType::Boolean, Check::Any, "yes").contains("some.key"));
    }

    #[test]
    fn integers_respect_type_width_and_bounds() {
        assert_eq!(ok(ConfigType::Int, Check::AtLeast(1), " 42 "), "42");
        assert!(err(ConfigType::Int, Check::Any, "2147483648").contains("32-bit"));
        assert!(err(ConfigType::Short, Check::Any, "40000").contains("16-bit"));
        assert_eq!(
            ok(ConfigType::Long, Check::Any, "9223372036854775807"),
            "9223372036854775807"
        );
        assert!(err(ConfigType::Long, Check::AtLeast(1), "0").contains("at least 1"));
        assert!(err(ConfigType::Int, Check::Between(1, 17), "18").contains("between"));
        assert!(err(ConfigType::Int, Check::Any, "12abc").contains("\"12abc\""));
    }

    #[test]
    fn gzip_level() {
        assert_eq!(ok(ConfigType::Int, Check::GzipLevel, "-1"), "-1");
        assert_eq!(ok(ConfigType::Int, Check::GzipLevel, "9"), "9");
        assert!(canonical("k", ConfigType::Int, Check::GzipLevel, "0").is_err());
        assert!(canonical("k", ConfigType::Int, Check::GzipLevel, "10").is_err());
    }

    #[test]
    fn doubles_print_like_java() {
        assert_eq!(
            ok(ConfigType::Double, Check::Fraction(0.0, 1.0), "0.5"),
            "0.5"
        );
        assert_eq!(
            ok(ConfigType::Double, Check::Fraction(0.0, 1.0), "1"),
            "1.0"
        );
        assert_eq!(ok(ConfigType::Double, Check::Any, "0.00001"), "1.0E-5");
        assert!(canonical("k", ConfigType::Double, Check::Fraction(0.0, 1.0), "1.5").is_err());
        assert!(canonical("k", ConfigType::Double, Check::Any, "NaN").is_err());
    }

    #[test]
    fn lists_are_normalised_and_checked() {
        let policies = Check::ListOf(&["compact", "delete"]);
        assert_eq!(
            ok(ConfigType::List, policies, " compact , delete "),
            "compact,delete"
        );
        assert_eq!(ok(ConfigType::List, policies, ""), "");
        assert!(err(ConfigType::List, policies, "delete,trim").contains("trim"));
    }

    #[test]
    fn strings_from_a_fixed_set_are_case_sensitive() {
        let check = Check::OneOf(&["CreateTime", "LogAppendTime"]);
        assert_eq!(
            ok(ConfigType::String, check, " LogAppendTime"),
            "LogAppendTime"
        );
        assert!(canonical("k", ConfigType::String, check, "createtime").is_err());
    }

    #[test]
    fn throttled_replicas() {
        let c = Check::ThrottledReplicas;
        assert_eq!(ok(ConfigType::List, c, "*"), "*");
        assert_eq!(ok(ConfigType::List, c, "0:1, 1:2"), "0:1,1:2");
        assert_eq!(ok(ConfigType::List, c, ""), "");
        assert!(canonical("k", ConfigType::List, c, "0:1,*").is_err());
        assert!(canonical("k", ConfigType::List, c, "a:b").is_err());
    }

    #[test]
    fn non_empty_unique_list() {
        let c = Check::NonEmptyUniqueList;
        assert_eq!(ok(ConfigType::List, c, "/a,/b"), "/a,/b");
        assert!(canonical("log.dirs", ConfigType::List, c, "").is_err());
        assert!(err(ConfigType::List, c, "/a,/a").contains("twice"));
    }

    #[test]
    fn type_codes_match_describe_configs() {
        assert_eq!(ConfigType::Boolean.code(), 1);
        assert_eq!(ConfigType::List.code(), 7);
        assert_eq!(ConfigType::Password.code(), 9);
    }
}
