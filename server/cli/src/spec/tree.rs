//! The parsed shape of a volume file, the same for HCL and JSON, with the byte offset of every
//! key and value so that a problem found while decoding can name its place. Also the reading of a
//! scalar as text, with Nomad's two degrees of leniency.

use super::error::{ErrorKind, Fault};

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Node {
    /// Byte offset of the value's first character.
    pub at: usize,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind {
    Str(String),
    /// A number as written, e.g. `10`, `0x1F`, `-1.5e3`.
    Num(String),
    Bool(bool),
    /// JSON only.
    Null,
    List(Vec<Node>),
    Object(Vec<Item>),
}

/// One `key = value`, or one block `key label… { … }` (its body is an `Object` value). HCL 1 does
/// not tell the two apart once parsed, and neither does Nomad's decoder.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Item {
    pub key: Key,
    pub labels: Vec<Key>,
    pub value: Node,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Key {
    pub name: String,
    pub at: usize,
}

impl Kind {
    /// What this is, for "must be a string, not …" messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Str(_) => "a string",
            Kind::Num(_) => "a number",
            Kind::Bool(_) => "a bool",
            Kind::Null => "null",
            Kind::List(_) => "a list",
            Kind::Object(_) => "a block",
        }
    }
}

/// How far a scalar may be from a string and still be read as one. Nomad decodes the top-level
/// attributes, capabilities and the three maps with mapstructure's weak typing, but mount options
/// and topology segments with HCL's own decoder, which takes numbers as written and no bools.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Strings {
    /// mapstructure: a number as Go would print it, a bool as "1" or "0".
    Weak,
    /// HCL: a number as written; a bool is an error.
    Literal,
}

impl Node {
    /// This scalar as text, or a wrong-type fault naming `what`.
    pub fn text(&self, what: &str, strings: Strings) -> Result<String, Fault> {
        match (&self.kind, strings) {
            (Kind::Str(s), _) => Ok(s.clone()),
            (Kind::Num(raw), Strings::Weak) => Ok(go_number(raw)),
            (Kind::Num(raw), Strings::Literal) => Ok(raw.clone()),
            (Kind::Bool(b), Strings::Weak) => Ok(if *b { "1" } else { "0" }.to_string()),
            _ => Err(self.wrong_type(what, "a string")),
        }
    }

    pub fn wrong_type(&self, what: &str, expected: &str) -> Fault {
        Fault::new(
            self.at,
            ErrorKind::WrongType,
            format!("{what} must be {expected}, not {}", self.kind.describe()),
        )
    }
}

impl Key {
    /// The fault of a key given again, placed at the repeat.
    pub fn given_twice(&self) -> Fault {
        Fault::new(
            self.at,
            ErrorKind::Duplicate,
            format!("{:?} is given more than once", self.name),
        )
    }
}

/// A number the way Go's mapstructure turns it into a string: HCL 1 reads integers (decimal,
/// hex `0x…`, octal `0…`) as int64 and anything with a fraction or exponent as float64, and
/// mapstructure prints those with `FormatInt` / `FormatFloat(f, 'f', -1, 64)`. Rust's `Display`
/// for f64 is the same shortest round-trip without an exponent. Text that fits neither (an
/// integer past i64) is kept as written.
fn go_number(raw: &str) -> String {
    let (sign, digits) = match raw.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, raw),
    };
    let int = if let Some(hex) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        i64::from_str_radix(&digits[1..], 8).ok()
    } else {
        digits.parse::<i64>().ok()
    };
    match int {
        Some(n) => (sign * n).to_string(),
        None => raw
            .parse::<f64>()
            .map_or_else(|_| raw.to_string(), |f| f.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: Kind) -> Node {
        Node { at: 4, kind }
    }

    #[test]
    fn numbers_read_as_go_prints_them() {
        for (raw, go) in [
            ("10", "10"),
            ("-7", "-7"),
            ("0x1F", "31"),
            ("010", "8"),
            ("0", "0"),
            ("1.50", "1.5"),
            ("1e3", "1000"),
            ("2.5E-3", "0.0025"),
            ("99999999999999999999", "100000000000000000000"),
        ] {
            assert_eq!(go_number(raw), go, "{raw}");
        }
    }

    #[test]
    fn weak_strings_take_numbers_and_bools() {
        let text = |k| node(k).text("x", Strings::Weak);
        assert_eq!(text(Kind::Str("a".into())), Ok("a".into()));
        assert_eq!(text(Kind::Num("1.0".into())), Ok("1".into()));
        assert_eq!(text(Kind::Bool(true)), Ok("1".into()));
        assert_eq!(text(Kind::Bool(false)), Ok("0".into()));
        let err = text(Kind::List(vec![])).expect_err("a list is no string");
        assert_eq!(err.kind, ErrorKind::WrongType);
        assert_eq!(err.message, "x must be a string, not a list");
    }

    #[test]
    fn literal_strings_keep_numbers_and_refuse_bools() {
        let text = |k| node(k).text("fs_type", Strings::Literal);
        assert_eq!(text(Kind::Num("1.50".into())), Ok("1.50".into()));
        let err = text(Kind::Bool(true)).expect_err("a bool is no string here");
        assert_eq!(err.message, "fs_type must be a string, not a bool");
        assert_eq!(err.at, super::super::error::At::Offset(4));
        assert!(text(Kind::Null).is_err());
    }
}
