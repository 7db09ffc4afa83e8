//! Nomad's `filter` query parameter: a go-bexpr boolean expression over an item's JSON fields.
//! Parsing errors point at the offending position; selectors that name nothing are reported when
//! an item is evaluated, as in Nomad. Items are asked for one top-level field at a time, so a
//! typed record answers a filter without being turned into JSON whole.

mod parse;

use regex::Regex;
use serde_json::Value;

#[derive(Debug)]
pub struct Filter {
    expr: Expr,
}

#[derive(Debug)]
pub(super) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Match {
        selector: Vec<String>,
        op: Op,
        value: String,
    },
}

#[derive(Debug)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `value in selector` and `selector contains value`.
    In,
    NotIn,
    IsEmpty,
    IsNotEmpty,
    Matches(Regex),
    NotMatches(Regex),
}

/// Fields whose JSON objects are maps: a missing key there is an absent value, not an error.
const MAP_FIELDS: [&str; 7] = [
    "Parameters",
    "Context",
    "Secrets",
    "Segments",
    "ReadAllocs",
    "WriteAllocs",
    "TaskStates",
];

/// An item a filter can evaluate: its top-level JSON fields by name, `None` for a name it does not
/// have.
pub trait Fields {
    fn field(&self, name: &str) -> Option<Value>;
}

impl Fields for Value {
    fn field(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

impl Filter {
    pub fn parse(src: &str) -> Result<Filter, String> {
        Ok(Filter {
            expr: parse::parse(src)?,
        })
    }

    /// Evaluates against one item; an error names a selector that matches no field.
    pub fn matches(&self, datum: &impl Fields) -> Result<bool, String> {
        eval(&self.expr, datum)
    }
}

fn lookup(datum: &impl Fields, path: &[String]) -> Result<Option<Value>, String> {
    let Some(top) = path.first() else {
        return Ok(None);
    };
    let Some(root) = datum.field(top) else {
        return Err(format!(
            "error finding value in datum: /{top}: couldn't find key {top:?}"
        ));
    };
    Ok(descend(&root, path)?.cloned())
}

/// Follows `path[1..]` below `root`, the value of the top-level field `path[0]`.
fn descend<'v>(root: &'v Value, path: &[String]) -> Result<Option<&'v Value>, String> {
    let mut cur = root;
    for i in 1..path.len() {
        let seg = &path[i];
        let shown = || format!("/{}", path[..=i].join("/"));
        cur = match cur {
            Value::Object(map) => match map.get(seg) {
                Some(v) => v,
                None if MAP_FIELDS.contains(&path[i - 1].as_str()) => return Ok(None),
                None => {
                    return Err(format!(
                        "error finding value in datum: {}: couldn't find key {seg:?}",
                        shown()
                    ));
                }
            },
            Value::Array(items) => match seg.parse::<usize>().ok().and_then(|n| items.get(n)) {
                Some(v) => v,
                None => {
                    return Err(format!(
                        "error finding value in datum: {}: invalid index {seg:?}",
                        shown()
                    ));
                }
            },
            Value::Null => return Ok(None),
            _ => {
                return Err(format!(
                    "error finding value in datum: {}: cannot index a scalar",
                    shown()
                ));
            }
        };
    }
    Ok(Some(cur))
}

fn equals(v: &Value, raw: &str) -> bool {
    match v {
        Value::String(s) => s == raw,
        Value::Number(n) => raw
            .parse::<f64>()
            .ok()
            .zip(n.as_f64())
            .is_some_and(|(a, b)| a == b),
        Value::Bool(b) => raw.parse::<bool>().is_ok_and(|r| r == *b),
        Value::Null => raw.is_empty(),
        _ => false,
    }
}

fn compare(v: &Value, raw: &str) -> Option<std::cmp::Ordering> {
    match v {
        Value::Number(n) => n.as_f64()?.partial_cmp(&raw.parse::<f64>().ok()?),
        Value::String(s) => Some(s.as_str().cmp(raw)),
        _ => None,
    }
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

fn contains(v: Option<&Value>, raw: &str) -> bool {
    match v {
        Some(Value::String(s)) => s.contains(raw),
        Some(Value::Array(items)) => items.iter().any(|i| equals(i, raw)),
        Some(Value::Object(map)) => map.contains_key(raw),
        _ => false,
    }
}

fn regex_matches(v: Option<&Value>, re: &Regex) -> bool {
    match v {
        Some(Value::String(s)) => re.is_match(s),
        Some(Value::Array(items)) => items
            .iter()
            .any(|i| matches!(i, Value::String(s) if re.is_match(s))),
        _ => false,
    }
}

fn eval(e: &Expr, datum: &impl Fields) -> Result<bool, String> {
    Ok(match e {
        Expr::Or(a, b) => eval(a, datum)? || eval(b, datum)?,
        Expr::And(a, b) => eval(a, datum)? && eval(b, datum)?,
        Expr::Not(a) => !eval(a, datum)?,
        Expr::Match {
            selector,
            op,
            value,
        } => {
            let found = lookup(datum, selector)?;
            let v = found.as_ref();
            let ord = |want: &[std::cmp::Ordering]| {
                v.and_then(|v| compare(v, value))
                    .is_some_and(|o| want.contains(&o))
            };
            use std::cmp::Ordering::*;
            match op {
                Op::Eq => v.is_some_and(|v| equals(v, value)),
                Op::Ne => !v.is_some_and(|v| equals(v, value)),
                Op::Lt => ord(&[Less]),
                Op::Le => ord(&[Less, Equal]),
                Op::Gt => ord(&[Greater]),
                Op::Ge => ord(&[Greater, Equal]),
                Op::In => contains(v, value),
                Op::NotIn => !contains(v, value),
                Op::IsEmpty => is_empty(v),
                Op::IsNotEmpty => !is_empty(v),
                Op::Matches(re) => regex_matches(v, re),
                Op::NotMatches(re) => !regex_matches(v, re),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vol() -> Value {
        json!({
            "ID": "db-01", "Namespace": "default", "PluginID": "aws-ebs", "Capacity": 1000,
            "Schedulable": true, "Parameters": {"type": "gp3"}, "Topologies": [{"Segments": {"zone": "a"}}],
            "ReadAllocs": {}, "Name": ""
        })
    }

    fn check(src: &str) -> bool {
        Filter::parse(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"))
            .matches(&vol())
            .unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    #[test]
    fn operators_follow_bexpr() {
        assert!(check(r#"PluginID == "aws-ebs""#));
        assert!(check("Namespace == default"), "a bare word is a value");
        assert!(check(r#"ID != "db-02" and Schedulable == true"#));
        assert!(check(
            "Capacity >= 1000 and Capacity < 2000 and not Capacity > 1000"
        ));
        assert!(check(
            r#""db" in ID and ID contains "01" and "type" in Parameters"#
        ));
        assert!(check(r#""zzz" not in ID and ID not contains "zzz""#));
        assert!(check(
            "Name is empty and ReadAllocs is empty and ID is not empty"
        ));
        assert!(check(r#"ID matches "^db-[0-9]+$" and ID not matches "x""#));
        assert!(check(
            r#"Parameters.type == "gp3" and Parameters["type"] == `gp3`"#
        ));
        assert!(check(r#"Parameters.missing is empty"#));
        assert!(check(r#"Topologies.0.Segments.zone == "a""#));
        assert!(check(
            r#"(PluginID == "x" or PluginID == "aws-ebs") and not (ID == "x")"#
        ));
    }

    #[test]
    fn malformed_expressions_point_at_the_error() {
        let err = |s: &str| Filter::parse(s).expect_err(s);
        assert_eq!(
            err("ID =="),
            "1:6 (5): expected a value, found end of input"
        );
        assert_eq!(
            err(r#"ID == "x" and"#),
            "1:14 (13): expected a selector, found end of input"
        );
        assert!(err(r#"ID == "x"#).contains("unterminated string literal"));
        assert!(err("(ID == x").contains("\")\" to close the group"));
        assert!(err("ID ~ x").contains("unexpected character '~'"));
        assert!(err(r#"ID matches "(""#).contains("invalid regular expression"));
    }

    #[test]
    fn unknown_selectors_fail_at_evaluation() {
        let f = Filter::parse(r#"Nope == "x""#).expect("parses");
        assert_eq!(
            f.matches(&vol()).expect_err("unknown"),
            r#"error finding value in datum: /Nope: couldn't find key "Nope""#
        );
    }
}
