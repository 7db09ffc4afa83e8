//! The lexer and recursive-descent parser of the filter language (go-bexpr's grammar, plus
//! ordering comparisons); errors name the position as `line:column (offset)`.

use super::{Expr, Op};
use regex::Regex;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

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

/// Parses a whole expression.
pub(super) fn parse(src: &str) -> Result<Expr, String> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, at: 0 };
    let expr = p.or()?;
    if p.at < p.toks.len() {
        return p.err("\"and\", \"or\" or the end of the expression");
    }
    Ok(expr)
}
