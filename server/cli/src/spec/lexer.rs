//! Tokens of HCL 1, the dialect Nomad reads volume files in (hashicorp/hcl v1, not HCL 2: blocks
//! on one line may hold several items, separated by commas), and of JSON, which shares them but
//! for `:`. Every token carries the byte offset it starts at.

use super::error::Fault;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    /// A quoted string or heredoc, unescaped.
    Str(String),
    /// A number as written.
    Num(String),
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Comma,
    Assign,
    Colon,
    Eof,
}

impl Tok {
    /// The token as a message names it.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Num(n) => format!("number {n}"),
            Tok::LBrace => "'{'".to_string(),
            Tok::RBrace => "'}'".to_string(),
            Tok::LBrack => "'['".to_string(),
            Tok::RBrack => "']'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Assign => "'='".to_string(),
            Tok::Colon => "':'".to_string(),
            Tok::Eof => "the end of the file".to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub tok: Tok,
    pub at: usize,
}

/// Which language's string escapes apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    Hcl,
    Json,
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    dialect: Dialect,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, dialect: Dialect) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            dialect,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump_while(&mut self, keep: impl Fn(char) -> bool) {
        let len = self.rest().find(|c| !keep(c)).unwrap_or(self.rest().len());
        self.pos += len;
    }

    pub fn next_token(&mut self) -> Result<Token, Fault> {
        self.skip_trivia()?;
        let at = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token { tok: Tok::Eof, at });
        };
        let single = match c {
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            '[' => Some(Tok::LBrack),
            ']' => Some(Tok::RBrack),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Assign),
            ':' => Some(Tok::Colon),
            _ => None,
        };
        let tok = if let Some(tok) = single {
            self.pos += 1;
            tok
        } else if c == '"' {
            Tok::Str(self.string()?)
        } else if c.is_ascii_digit() || c == '-' {
            Tok::Num(self.number()?)
        } else if c == '_' || c.is_alphabetic() {
            self.bump_while(|c| c == '_' || c == '-' || c == '.' || c.is_alphanumeric());
            Tok::Ident(self.src[at..self.pos].to_string())
        } else if self.rest().starts_with("<<") && self.dialect == Dialect::Hcl {
            Tok::Str(self.heredoc()?)
        } else {
            return Err(Fault::syntax(at, format!("unexpected character {c:?}")));
        };
        Ok(Token { tok, at })
    }

    fn skip_trivia(&mut self) -> Result<(), Fault> {
        loop {
            self.bump_while(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            let rest = self.rest();
            if rest.starts_with('#') || rest.starts_with("//") {
                self.bump_while(|c| c != '\n');
            } else if let Some(comment) = rest.strip_prefix("/*") {
                let end = comment
                    .find("*/")
                    .ok_or_else(|| Fault::syntax(self.pos, "comment not terminated: no \"*/\""))?;
                self.pos += end + 4;
            } else {
                return Ok(());
            }
        }
    }

    fn number(&mut self) -> Result<String, Fault> {
        let at = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(Fault::syntax(at, "expected a digit after '-'"));
        }
        if self.rest().starts_with("0x") || self.rest().starts_with("0X") {
            self.pos += 2;
            let digits = self.pos;
            self.bump_while(|c| c.is_ascii_hexdigit());
            if self.pos == digits {
                return Err(Fault::syntax(
                    at,
                    "expected hexadecimal digits after \"0x\"",
                ));
            }
        } else {
            self.bump_while(|c| c.is_ascii_digit());
            if self.peek() == Some('.') {
                self.pos += 1;
                self.bump_while(|c| c.is_ascii_digit());
            }
            if matches!(self.peek(), Some('e' | 'E')) {
                self.pos += 1;
                if matches!(self.peek(), Some('+' | '-')) {
                    self.pos += 1;
                }
                self.bump_while(|c| c.is_ascii_digit());
            }
        }
        Ok(self.src[at..self.pos].to_string())
    }

    fn string(&mut self) -> Result<String, Fault> {
        let at = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None | Some('\n') => {
                    return Err(Fault::syntax(at, "string not terminated: no closing '\"'"));
                }
                Some('"') => break,
                Some('\\') => {
                    self.pos += 1 + self.rest()[1..].chars().next().map_or(0, char::len_utf8)
                }
                Some(c) => self.pos += c.len_utf8(),
            }
        }
        self.pos += 1;
        let quoted = &self.src[at..self.pos];
        match self.dialect {
            // serde_json has already accepted the whole file, so its reading of the string is
            // exact JSON, surrogate pairs included.
            Dialect::Json => serde_json::from_str(quoted)
                .map_err(|e| Fault::syntax(at, format!("bad string: {e}"))),
            Dialect::Hcl => unescape(&quoted[1..quoted.len() - 1], at + 1),
        }
    }

    /// `<<ID` … `ID`, or `<<-ID` whose lines lose the closing line's indentation, as HCL 1.
    fn heredoc(&mut self) -> Result<String, Fault> {
        let at = self.pos;
        self.pos += 2;
        let indented = self.peek() == Some('-');
        if indented {
            self.pos += 1;
        }
        let anchor_at = self.pos;
        self.bump_while(|c| c == '_' || c.is_alphanumeric());
        let anchor = &self.src[anchor_at..self.pos];
        self.bump_while(|c| c == '\r');
        if anchor.is_empty() || self.peek() != Some('\n') {
            return Err(Fault::syntax(
                at,
                "a heredoc starts with <<NAME and a line break",
            ));
        }
        self.pos += 1;
        let mut lines = Vec::new();
        loop {
            if self.pos >= self.src.len() {
                return Err(Fault::syntax(
                    at,
                    format!("heredoc not terminated: no line {anchor:?}"),
                ));
            }
            let line_at = self.pos;
            self.bump_while(|c| c != '\n');
            let line = self.src[line_at..self.pos].trim_end_matches('\r');
            if self.peek() == Some('\n') {
                self.pos += 1;
            }
            if line.trim_start() == anchor {
                let indent = &line[..line.len() - anchor.len()];
                let strip = indented && lines.iter().all(|l: &&str| l.starts_with(indent));
                return Ok(lines
                    .iter()
                    .map(|l| format!("{}\n", if strip { &l[indent.len()..] } else { l }))
                    .collect());
            }
            lines.push(line);
        }
    }
}

/// Go-style escapes, as HCL 1 reads them: `\n \t \r \a \b \f \v \\ \"`, octal `\ooo`, `\xhh`,
/// `\uhhhh` and `\Uhhhhhhhh`. `start` is the byte offset of `body` in the file.
fn unescape(body: &str, start: usize) -> Result<String, Fault> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let bad = || Fault::syntax(start + i, "invalid escape sequence in string");
        let (_, e) = chars.next().ok_or_else(bad)?;
        let simple = match e {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (radix, len, first) = match e {
            '0'..='7' => (8, 3, Some(e)),
            'x' => (16, 2, None),
            'u' => (16, 4, None),
            'U' => (16, 8, None),
            _ => return Err(bad()),
        };
        let mut digits: String = first.into_iter().collect();
        while digits.len() < len {
            let (_, d) = chars.next_if(|(_, d)| d.is_digit(radix)).ok_or_else(bad)?;
            digits.push(d);
        }
        let code = u32::from_str_radix(&digits, radix).map_err(|_| bad())?;
        out.push(char::from_u32(code).ok_or_else(bad)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(src, Dialect::Hcl);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token().expect("lexes");
            if token.tok == Tok::Eof {
                return out;
            }
            out.push(token.tok);
        }
    }

    fn fault(src: &str) -> Fault {
        let mut lexer = Lexer::new(src, Dialect::Hcl);
        loop {
            match lexer.next_token() {
                Ok(t) if t.tok == Tok::Eof => panic!("{src:?} lexed"),
                Ok(_) => {}
                Err(f) => return f,
            }
        }
    }

    #[test]
    fn reads_every_token_and_skips_comments() {
        let got = tokens("a-b.c = \"x\" # one\n// two\n/* three\n */ { } [ ] , : -1.5e3 0x1F true");
        assert_eq!(
            got,
            vec![
                Tok::Ident("a-b.c".into()),
                Tok::Assign,
                Tok::Str("x".into()),
                Tok::LBrace,
                Tok::RBrace,
                Tok::LBrack,
                Tok::RBrack,
                Tok::Comma,
                Tok::Colon,
                Tok::Num("-1.5e3".into()),
                Tok::Num("0x1F".into()),
                Tok::Ident("true".into()),
            ]
        );
    }

    #[test]
    fn unescapes_go_style() {
        let got = tokens(r#""a\"b\\c\n\t\101\x42\u00e9\U0001F600""#);
        assert_eq!(got, vec![Tok::Str("a\"b\\c\n\tABé😀".into())]);
        assert_eq!(fault(r#"  "a\qb""#).at, super::super::error::At::Offset(4));
    }

    #[test]
    fn reads_heredocs() {
        assert_eq!(
            tokens("x = <<EOF\nline 1\n  line 2\nEOF\n"),
            vec![
                Tok::Ident("x".into()),
                Tok::Assign,
                Tok::Str("line 1\n  line 2\n".into())
            ]
        );
        assert_eq!(
            tokens("x = <<-EOF\n    a\n      b\n    EOF\n")[2],
            Tok::Str("a\n  b\n".into())
        );
        assert!(
            fault("x = <<EOF\nnever closed\n")
                .message
                .contains("heredoc not terminated")
        );
    }

    #[test]
    fn faults_point_at_the_offending_place() {
        let f = fault("a = \"open\nb = 1");
        assert_eq!(f.at, super::super::error::At::Offset(4));
        assert!(f.message.contains("not terminated"), "{}", f.message);
        assert_eq!(
            fault("a = 1 /* open").at,
            super::super::error::At::Offset(6)
        );
        let f = fault("a = @");
        assert_eq!(f.message, "unexpected character '@'");
        assert_eq!(fault("a = - 1").message, "expected a digit after '-'");
        assert_eq!(fault("a = 0x").at, super::super::error::At::Offset(4));
    }

    #[test]
    fn json_strings_use_json_escapes() {
        let mut lexer = Lexer::new(r#""\/\ud83d\ude00""#, Dialect::Json);
        let token = lexer.next_token().expect("lexes");
        assert_eq!(token.tok, Tok::Str("/😀".into()));
    }
}
