//! Nomad's `filter` query parameter: a go-bexpr boolean expression over a volume's JSON. Parsing
//! errors point at the offending position; selectors that name nothing are reported when an item
//! is evaluated, as in Nomad.

use regex::Regex;
use serde_json::Value;

#[derive(Debug)]
pub struct Filter {
    expr: Expr,
}

#[derive(Debug)]
enum Expr {
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
enum Op {
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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Sym(&'static str),
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

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '/')
            {
                i += 1;
            }
            out.push((start, Tok::Ident(chars[start..i].iter().collect())));
            continue;
        }
        if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            i += 1;
            // A dot belongs to the number only when a digit follows: `Topologies.0.Segments`.
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (chars[i] == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())))
            {
                i += 1;
            }
            out.push((start, Tok::Num(chars[start..i].iter().collect())));
            continue;
        }
        if c == '"' || c == '`' {
            i += 1;
            let mut s = String::new();
            loop {
                match chars.get(i) {
                    None => {
                        return Err(format!("{}: unterminated string literal", pos(src, start)));
                    }
                    Some(&q) if q == c => break,
                    Some('\\') if c == '"' => {
                        let esc = chars.get(i + 1).copied().ok_or_else(|| {
                            format!("{}: unterminated string literal", pos(src, start))
                        })?;
                        s.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push((start, Tok::Str(s)));
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let sym = match (two.as_str(), c) {
            ("==", _) => "==",
            ("!=", _) => "!=",
            ("<=", _) => "<=",
            (">=", _) => ">=",
            (_, '<') => "<",
            (_, '>') => ">",
            (_, '(') => "(",
            (_, ')') => ")",
            (_, '[') => "[",
            (_, ']') => "]",
            (_, '.') => ".",
            _ => return Err(format!("{}: unexpected character {c:?}", pos(src, start))),
        };
        i += sym.len();
        out.push((start, Tok::Sym(sym)));
    }
    Ok(out)
}

/// `line:column (offset)`, as go-bexpr reports positions.
fn pos(src: &str, offset: usize) -> String {
    let before: String = src.chars().take(offset).collect();
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{col} ({offset})")
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(usize, Tok)>,
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.toks.get(self.at + 1).map(|(_, t)| t)
    }

    fn here(&self) -> String {
        pos(
            self.src,
            self.toks
                .get(self.at)
                .map_or(self.src.chars().count(), |(o, _)| *o),
        )
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        let found = match self.peek() {
            None => "end of input".to_string(),
            Some(Tok::Ident(s) | Tok::Num(s)) => format!("{s:?}"),
            Some(Tok::Str(s)) => format!("string {s:?}"),
            Some(Tok::Sym(s)) => format!("{s:?}"),
        };
        Err(format!("{}: expected {what}, found {found}", self.here()))
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == kw) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(t)) if *t == s) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.not()?;
        while self.keyword("and") {
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, String> {
        // "not" starts a negation unless it is the selector of a match ("not == x" is nonsense).
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == "not") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if self.sym("(") {
            let e = self.or()?;
            if !self.sym(")") {
                return self.err("\")\" to close the group");
            }
            return Ok(e);
        }
        self.matcher()
    }

    fn selector(&mut self) -> Result<Vec<String>, String> {
        let mut path = match self.peek().cloned() {
            Some(Tok::Ident(s)) if !is_keyword(&s) => {
                self.at += 1;
                vec![s]
            }
            _ => return self.err("a selector"),
        };
        loop {
            if self.sym(".") {
                match self.peek().cloned() {
                    Some(Tok::Ident(s) | Tok::Num(s)) => {
                        self.at += 1;
                        path.push(s);
                    }
                    _ => return self.err("a field name after \".\""),
                }
            } else if self.sym("[") {
                match self.peek().cloned() {
                    Some(Tok::Str(s)) => {
                        self.at += 1;
                        path.push(s);
                    }
                    _ => return self.err("a quoted index"),
                }
                if !self.sym("]") {
                    return self.err("\"]\" to close the index");
                }
            } else {
                return Ok(path);
            }
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Tok::Str(s) | Tok::Num(s)) => {
                self.at += 1;
                Ok(s)
            }
            Some(Tok::Ident(s)) if !is_keyword(&s) => Ok(self.selector()?.join(".")),
            _ => self.err("a value"),
        }
    }

    fn regex(&mut self) -> Result<Regex, String> {
        let at = self.here();
        let raw = self.value()?;
        Regex::new(&raw).map_err(|e| format!("{at}: invalid regular expression: {e}"))
    }

    fn matcher(&mut self) -> Result<Expr, String> {
        // `"value" in Selector` / `"value" not in Selector`
        if matches!(self.peek(), Some(Tok::Str(_) | Tok::Num(_))) {
            let value = self.value()?;
            let op = if self.keyword("in") {
                Op::In
            } else if self.keyword("not") && self.keyword("in") {
                Op::NotIn
            } else {
                return self.err("\"in\" or \"not in\" after a value");
            };
            return Ok(Expr::Match {
                selector: self.selector()?,
                op,
                value,
            });
        }
        let selector = self.selector()?;
        let sel_expr = |selector, op, value| {
            Ok(Expr::Match {
                selector,
                op,
                value,
            })
        };
        if self.keyword("in") {
            // A bare word before `in` is a value, not a selector.
            return Ok(Expr::Match {
                selector: self.selector()?,
                op: Op::In,
                value: selector.join("."),
            });
        }
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == "not")
            && matches!(self.peek2(), Some(Tok::Ident(s)) if s == "in")
        {
            self.at += 2;
            return Ok(Expr::Match {
                selector: self.selector()?,
                op: Op::NotIn,
                value: selector.join("."),
            });
        }
        for (sym, op) in [
            ("==", 0),
            ("!=", 1),
            ("<=", 2),
            (">=", 3),
            ("<", 4),
            (">", 5),
        ] {
            if self.sym(sym) {
                let value = self.value()?;
                let op = match op {
                    0 => Op::Eq,
                    1 => Op::Ne,
                    2 => Op::Le,
                    3 => Op::Ge,
                    4 => Op::Lt,
                    _ => Op::Gt,
                };
                return sel_expr(selector, op, value);
            }
        }
        if self.keyword("is") {
            let negated = self.keyword("not");
            if !self.keyword("empty") {
                return self.err("\"empty\"");
            }
            return sel_expr(
                selector,
                if negated { Op::IsNotEmpty } else { Op::IsEmpty },
                String::new(),
            );
        }
        if self.keyword("contains") {
            return sel_expr(selector, Op::In, self.value()?);
        }
        if self.keyword("matches") {
            return sel_expr(selector, Op::Matches(self.regex()?), String::new());
        }
        if self.keyword("not") {
            if self.keyword("contains") {
                return sel_expr(selector, Op::NotIn, self.value()?);
            }
            if self.keyword("matches") {
                return sel_expr(selector, Op::NotMatches(self.regex()?), String::new());
            }
            return self.err("\"contains\", \"matches\" or \"in\" after \"not\"");
        }
        self.err("a match operator (==, !=, <, <=, >, >=, in, contains, matches, is empty)")
    }
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "and" | "or" | "not" | "in" | "is" | "empty" | "contains" | "matches"
    )
}

impl Filter {
    pub fn parse(src: &str) -> Result<Filter, String> {
        let toks = lex(src)?;
        let mut p = Parser { src, toks, at: 0 };
        let expr = p.or()?;
        if p.at < p.toks.len() {
            return p.err("\"and\", \"or\" or the end of the expression");
        }
        Ok(Filter { expr })
    }

    /// Evaluates against one item; an error names a selector that matches no field.
    pub fn matches(&self, datum: &Value) -> Result<bool, String> {
        eval(&self.expr, datum)
    }
}

fn lookup<'v>(datum: &'v Value, path: &[String]) -> Result<Option<&'v Value>, String> {
    let mut cur = datum;
    for (i, seg) in path.iter().enumerate() {
        let shown = || format!("/{}", path[..=i].join("/"));
        cur = match cur {
            Value::Object(map) => match map.get(seg) {
                Some(v) => v,
                None if i > 0 && MAP_FIELDS.contains(&path[i - 1].as_str()) => return Ok(None),
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

fn eval(e: &Expr, datum: &Value) -> Result<bool, String> {
    Ok(match e {
        Expr::Or(a, b) => eval(a, datum)? || eval(b, datum)?,
        Expr::And(a, b) => eval(a, datum)? && eval(b, datum)?,
        Expr::Not(a) => !eval(a, datum)?,
        Expr::Match {
            selector,
            op,
            value,
        } => {
            let v = lookup(datum, selector)?;
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
