//! The HCL 1 grammar of a volume file, into a `tree::Node`. As in hashicorp/hcl v1: a body is a
//! list of items `key label… = value` or `key label… { body }`, with optional commas between
//! them; a value is a string, heredoc, number, bool, `{ body }` or `[ value, … ]`.
//!
//! Not HCL 2 (hcl-edit's grammar): HCL 2 refuses Nomad's own `volume init` output, such as
//! `topology { segments { rack = "R1", zone = "us-east-1a" } }` (a one-line block holding a block,
//! and commas between attributes).

use super::error::{Fault, Position};
use super::lexer::{Dialect, Lexer, Tok, Token};
use super::tree::{Item, Key, Kind, Node};

/// How deep blocks and lists may nest. A volume file needs five levels; the bound keeps a
/// malformed file from exhausting the stack.
const MAX_DEPTH: usize = 32;

/// Parses a whole file into an `Object` node holding its top-level items.
pub(super) fn parse(src: &str) -> Result<Node, Fault> {
    let mut parser = Parser {
        lexer: Lexer::new(src, Dialect::Hcl),
        ahead: None,
        depth: 0,
        src,
    };
    let items = parser.body(None)?;
    Ok(Node {
        at: 0,
        kind: Kind::Object(items),
    })
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    ahead: Option<Token>,
    src: &'a str,
    depth: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Result<Token, Fault> {
        match self.ahead.take() {
            Some(token) => Ok(token),
            None => self.lexer.next_token(),
        }
    }

    fn nested<T>(
        &mut self,
        at: usize,
        parse: impl FnOnce(&mut Self) -> Result<T, Fault>,
    ) -> Result<T, Fault> {
        if self.depth == MAX_DEPTH {
            return Err(Fault::syntax(
                at,
                format!("nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let out = parse(self);
        self.depth -= 1;
        out
    }

    fn peek(&mut self) -> Result<&Token, Fault> {
        let token = self.next()?;
        Ok(self.ahead.insert(token))
    }

    /// Items up to the end of the file (`open` is `None`) or to the `}` closing the `{` at `open`.
    fn body(&mut self, open: Option<usize>) -> Result<Vec<Item>, Fault> {
        let mut items = Vec::new();
        loop {
            let token = self.next()?;
            let key = match token.tok {
                Tok::Eof => match open {
                    None => return Ok(items),
                    Some(open) => {
                        let open = Position::of(self.src, open);
                        return Err(Fault::syntax(
                            token.at,
                            format!("unexpected end of file: the '{{' at {open} is not closed"),
                        ));
                    }
                },
                Tok::RBrace if open.is_some() => return Ok(items),
                // Commas may separate the items of a block, as in `segments { a = "1", b = "2" }`.
                Tok::Comma if !items.is_empty() => continue,
                Tok::Ident(name) | Tok::Str(name) => Key { name, at: token.at },
                other => {
                    return Err(Fault::syntax(
                        token.at,
                        format!("expected a key, found {}", other.describe()),
                    ));
                }
            };
            items.push(self.item(key)?);
        }
    }

    fn item(&mut self, key: Key) -> Result<Item, Fault> {
        let mut labels = Vec::new();
        loop {
            let token = self.next()?;
            match token.tok {
                Tok::Assign if labels.is_empty() => {
                    let value = self.value()?;
                    return Ok(Item { key, labels, value });
                }
                Tok::LBrace => {
                    let items = self.nested(token.at, |p| p.body(Some(token.at)))?;
                    let value = Node {
                        at: token.at,
                        kind: Kind::Object(items),
                    };
                    return Ok(Item { key, labels, value });
                }
                Tok::Ident(name) | Tok::Str(name) => labels.push(Key { name, at: token.at }),
                other => {
                    // `a "b" = 1` is no more HCL 1 than `a = = 1`; point at what follows the key.
                    let at = labels.first().map_or(token.at, |l| l.at);
                    let found = labels
                        .first()
                        .map_or(other.describe(), |l| format!("{:?}", l.name));
                    return Err(Fault::syntax(
                        at,
                        format!("expected '=' or '{{' after {:?}, found {found}", key.name),
                    ));
                }
            }
        }
    }

    fn value(&mut self) -> Result<Node, Fault> {
        let token = self.next()?;
        let kind = match token.tok {
            Tok::Str(s) => Kind::Str(s),
            Tok::Num(n) => Kind::Num(n),
            Tok::Ident(word) if word == "true" || word == "false" => Kind::Bool(word == "true"),
            Tok::LBrace => Kind::Object(self.nested(token.at, |p| p.body(Some(token.at)))?),
            Tok::LBrack => Kind::List(self.nested(token.at, Self::list)?),
            other => {
                return Err(Fault::syntax(
                    token.at,
                    format!("expected a value, found {}", other.describe()),
                ));
            }
        };
        Ok(Node { at: token.at, kind })
    }

    fn list(&mut self) -> Result<Vec<Node>, Fault> {
        let mut values = Vec::new();
        loop {
            if self.peek()?.tok == Tok::RBrack {
                self.next()?;
                return Ok(values);
            }
            values.push(self.value()?);
            let token = self.next()?;
            match token.tok {
                Tok::Comma => {}
                Tok::RBrack => return Ok(values),
                other => {
                    return Err(Fault::syntax(
                        token.at,
                        format!("expected ',' or ']' in a list, found {}", other.describe()),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::At;
    use super::*;

    fn items(src: &str) -> Vec<Item> {
        match parse(src).expect("parses").kind {
            Kind::Object(items) => items,
            other => panic!("root is {other:?}"),
        }
    }

    fn fault_at(src: &str) -> (Position, String) {
        let fault = parse(src).expect_err("does not parse");
        let At::Offset(offset) = fault.at else {
            panic!("no offset: {fault:?}")
        };
        (Position::of(src, offset), fault.message)
    }

    #[test]
    fn reads_nomads_one_line_blocks() {
        let got = items("topology { segments { rack = \"R2\", zone = \"us-east-1a\" } }");
        let Kind::Object(topology) = &got[0].value.kind else {
            panic!("{got:?}")
        };
        let Kind::Object(segments) = &topology[0].value.kind else {
            panic!("{topology:?}")
        };
        let names: Vec<_> = segments.iter().map(|i| i.key.name.as_str()).collect();
        assert_eq!(names, ["rack", "zone"]);
        assert_eq!(segments[1].key.at, 35);
    }

    #[test]
    fn reads_attributes_lists_labels_and_quoted_keys() {
        let got = items("a = [\"x\", 2, true,]\nb = { \"c.d\" = 1 }\nblock \"label\" {}\n");
        assert_eq!(got.len(), 3);
        let Kind::List(list) = &got[0].value.kind else {
            panic!("{got:?}")
        };
        assert_eq!(list.len(), 3);
        assert_eq!(list[2].kind, Kind::Bool(true));
        let Kind::Object(b) = &got[1].value.kind else {
            panic!("{got:?}")
        };
        assert_eq!(b[0].key.name, "c.d");
        assert_eq!(got[2].labels[0].name, "label");
        assert_eq!(got[2].value.kind, Kind::Object(vec![]));
    }

    #[test]
    fn syntax_errors_point_at_line_and_column() {
        let (at, msg) = fault_at("id = \"a\"\nname = \n}");
        assert_eq!((at.line, at.column), (3, 1));
        assert_eq!(msg, "expected a value, found '}'");

        let (at, msg) = fault_at("id = \"a\"\ncapability {\n  access_mode = \"x\"\n");
        assert_eq!((at.line, at.column), (4, 1));
        assert_eq!(msg, "unexpected end of file: the '{' at 2:12 is not closed");

        let (at, msg) = fault_at("id \"a\"\nname = \"b\"");
        assert_eq!((at.line, at.column), (1, 4));
        assert_eq!(msg, "expected '=' or '{' after \"id\", found \"a\"");

        let (at, _) = fault_at("mount_flags = [\"a\" \"b\"]");
        assert_eq!((at.line, at.column), (1, 20));
        let (at, _) = fault_at("x = 1\n}");
        assert_eq!((at.line, at.column), (2, 1));
        let deep = format!("a = {}{}", "[".repeat(40), "]".repeat(40));
        let (at, msg) = fault_at(&deep);
        assert_eq!((at.line, at.column), (1, 37));
        assert_eq!(msg, "nested more than 32 levels deep");
        let (at, msg) = fault_at("id: \"a\"");
        assert_eq!((at.line, at.column), (1, 3));
        assert_eq!(msg, "expected '=' or '{' after \"id\", found ':'");
    }
}
