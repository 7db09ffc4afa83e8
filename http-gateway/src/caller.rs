//! The token a request presents, read as Nomad reads it: `X-Nomad-Token` (trimmed) first, then
//! `Authorization: Bearer <token>` (the scheme in any case, the first word after it); any other
//! scheme, or none, is no token, and the caller is anonymous.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::convert::Infallible;
use stowage_proto::acl::Token;

/// The caller's token, as an extractor.
pub(crate) struct Caller(pub Token);

pub(crate) fn token_of(headers: &HeaderMap) -> Token {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A present `X-Nomad-Token` decides, even when it trims to nothing (then: anonymous).
    if let Some(t) = text("X-Nomad-Token").filter(|t| !t.is_empty()) {
        return Token::secret(t.trim());
    }
    // `<scheme> <value>`, split at the first space exactly: a leading space leaves no scheme.
    let bearer = text("Authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, rest)| rest.trim().split(' ').next());
    bearer.map_or_else(Token::anonymous, Token::secret)
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Caller(token_of(&parts.headers)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(headers: &[(&str, &str)]) -> Token {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        token_of(&map)
    }

    #[test]
    fn reads_tokens_in_nomads_order() {
        assert_eq!(token(&[]), Token::anonymous());
        assert_eq!(token(&[("X-Nomad-Token", " abc ")]), Token::secret("abc"));
        assert_eq!(
            token(&[
                ("X-Nomad-Token", "first"),
                ("Authorization", "Bearer second")
            ]),
            Token::secret("first")
        );
        assert_eq!(
            token(&[("Authorization", "bEaReR tok extra")]),
            Token::secret("tok")
        );
        assert_eq!(
            token(&[("Authorization", "Basic dXNlcg==")]),
            Token::anonymous()
        );
        assert_eq!(token(&[("Authorization", "Bearer")]), Token::anonymous());
        assert_eq!(
            token(&[("X-Nomad-Token", ""), ("Authorization", "Bearer b")]),
            Token::secret("b")
        );
        // Present but blank: anonymous, and the Authorization header is not read.
        assert_eq!(
            token(&[("X-Nomad-Token", "  "), ("Authorization", "Bearer b")]),
            Token::anonymous()
        );
        assert_eq!(token(&[("Authorization", " Bearer x")]), Token::anonymous());
        assert_eq!(token(&[("Authorization", "Bearer  x")]), Token::secret("x"));
    }
}
