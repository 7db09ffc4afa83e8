//! What a volume file can get wrong, and where: `SpecError` for callers, and the `Fault` the
//! readers raise with a byte offset before the file's name and text are at hand.

use std::fmt;

/// A one-based line and column; the column counts characters, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `text` (clamped to its end and to a character boundary).
    pub fn of(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which rule a volume file broke, for callers that react to more than the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not well-formed HCL or JSON.
    Syntax,
    /// A key the specification does not have, or a label where none is taken.
    UnknownKey,
    /// An attribute or single block given twice, or a map key given twice.
    Duplicate,
    /// A value of the wrong type, such as a list where a string belongs.
    WrongType,
    /// A capacity that is not a size in bytes that fits an i64.
    Capacity,
    /// No `type`, or one other than "csi".
    VolumeType,
    /// An API wrapper that does not hold exactly one volume.
    VolumeCount,
}

/// A volume file that cannot be read, with the file's name and the place of the problem.
/// Displays as one line: `origin:line:col: message`, or `origin: message` without a place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{origin}{}: {message}", at.map(|p| format!(":{p}")).unwrap_or_default())]
pub struct SpecError {
    pub origin: String,
    pub at: Option<Position>,
    pub kind: ErrorKind,
    pub message: String,
}

/// Where a fault lies: a byte offset into the text, or nowhere in particular.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum At {
    Offset(usize),
    Nowhere,
}

/// A problem found while reading, located before the origin is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Fault {
    pub at: At,
    pub kind: ErrorKind,
    pub message: String,
}

impl Fault {
    pub fn new(offset: usize, kind: ErrorKind, message: impl Into<String>) -> Fault {
        Fault {
            at: At::Offset(offset),
            kind,
            message: message.into(),
        }
    }

    pub fn syntax(offset: usize, message: impl Into<String>) -> Fault {
        Fault::new(offset, ErrorKind::Syntax, message)
    }

    pub fn nowhere(kind: ErrorKind, message: impl Into<String>) -> Fault {
        Fault {
            at: At::Nowhere,
            kind,
            message: message.into(),
        }
    }

    pub fn into_error(self, text: &str, origin: &str) -> SpecError {
        let at = match self.at {
            At::Offset(offset) => Some(Position::of(text, offset)),
            At::Nowhere => None,
        };
        SpecError {
            origin: origin.to_string(),
            at,
            kind: self.kind,
            message: self.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "ab\ncdé\nf";
        assert_eq!(Position::of(text, 0), Position { line: 1, column: 1 });
        assert_eq!(Position::of(text, 3), Position { line: 2, column: 1 });
        // "é" is two bytes but one column.
        assert_eq!(Position::of(text, 7), Position { line: 2, column: 4 });
        assert_eq!(Position::of(text, 99), Position { line: 3, column: 2 });
        // Inside a multi-byte character: the character's own column.
        assert_eq!(Position::of(text, 6), Position { line: 2, column: 3 });
    }

    #[test]
    fn displays_one_line_with_or_without_a_place() {
        let at = Fault::new(3, ErrorKind::Syntax, "bad").into_error("ab\ncd", "volume.hcl");
        assert_eq!(at.to_string(), "volume.hcl:2:1: bad");
        let nowhere = Fault::nowhere(ErrorKind::VolumeType, "no type").into_error("", "<stdin>");
        assert_eq!(nowhere.to_string(), "<stdin>: no type");
        assert_eq!(nowhere.kind, ErrorKind::VolumeType);
    }
}
