//! JSON volume files, in either of two shapes told apart by their keys: Nomad's HCL-JSON form
//! (the HCL file's snake_case keys, a block as an object or a list of objects), read by the same
//! decoder as HCL; or Nomad's API volume object (PascalCase keys), bare or inside the register
//! request's `{"Volumes": […]}`, read by serde into `VolumeSpec`.

use super::decode;
use super::error::{ErrorKind, Fault};
use super::lexer::{Dialect, Lexer, Tok};
use super::tree::{Item, Key, Kind, Node, Strings};
use serde::Deserialize;
use serde_json::{Map, Value};
use stowage_proto::api::VolumeSpec;

pub(super) fn parse(text: &str) -> Result<VolumeSpec, Fault> {
    // serde_json judges the syntax, so that its messages are those of every other JSON tool.
    if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(syntax(text, &err));
    }
    let root = tree(text)?;
    let Kind::Object(items) = &root.kind else {
        return Err(root.wrong_type("a volume specification", "an object"));
    };
    if items.iter().any(|i| i.key.name == "Volumes") {
        wrapper(items)
    } else if !items.is_empty()
        && items
            .iter()
            .all(|i| i.key.name.starts_with(|c: char| c.is_ascii_uppercase()))
    {
        api_volume(&root)
    } else {
        decode::volume(&root)
    }
}

/// serde_json's error at its place. Its column counts bytes; ours counts characters.
fn syntax(text: &str, err: &serde_json::Error) -> Fault {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(err.line().saturating_sub(1))
        .map(str::len)
        .sum();
    let message = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let message = message.strip_suffix(&suffix).unwrap_or(&message);
    Fault::syntax(line_start + err.column().saturating_sub(1), message)
}

/// The register request's wrapper, holding the one volume this file registers.
fn wrapper(items: &[Item]) -> Result<VolumeSpec, Fault> {
    let mut volumes = None;
    let mut namespace = None;
    for item in items {
        let slot = match item.key.name.as_str() {
            "Volumes" => &mut volumes,
            "Namespace" => &mut namespace,
            // The request's other fields (PolicyOverride, Region, …) do not describe the volume.
            _ => continue,
        };
        if slot.replace(&item.value).is_some() {
            return Err(item.key.given_twice());
        }
    }
    let Some(volumes) = volumes else {
        return Err(Fault::nowhere(
            ErrorKind::VolumeCount,
            "the request names no Volumes",
        ));
    };
    let Kind::List(list) = &volumes.kind else {
        return Err(volumes.wrong_type("Volumes", "a list of volumes"));
    };
    // As Nomad's decoder, a null element is no volume.
    let list: Vec<&Node> = list.iter().filter(|v| v.kind != Kind::Null).collect();
    let one = match list.as_slice() {
        [one] => one,
        [] => {
            return Err(Fault::new(
                volumes.at,
                ErrorKind::VolumeCount,
                "Volumes is empty: a volume file holds one volume",
            ));
        }
        [_, second, ..] => {
            return Err(Fault::new(
                second.at,
                ErrorKind::VolumeCount,
                format!(
                    "Volumes holds {} volumes: a volume file holds one; split it",
                    list.len()
                ),
            ));
        }
    };
    let mut spec = api_volume(one)?;
    // The request's namespace is that of a volume that names none.
    if let Some(ns) = namespace.filter(|_| spec.namespace.is_empty()) {
        spec.namespace = ns.text("Namespace", Strings::Literal)?;
    }
    Ok(spec)
}

/// A volume object in the API's field names, as `nomad volume status -json` prints it.
fn api_volume(node: &Node) -> Result<VolumeSpec, Fault> {
    let mut value = to_value(node)?;
    docs_topologies(&mut value);
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(&value, &mut track);
    VolumeSpec::deserialize(de).map_err(|err| {
        let path = track.path();
        Fault::new(
            locate(node, &path),
            ErrorKind::WrongType,
            format!("{path}: {err}"),
        )
    })
}

/// The same document as serde_json's value, as Go's decoder sees it: a `null` member is no
/// member. Repeated keys, which serde_json would let the last of win, are refused.
fn to_value(node: &Node) -> Result<Value, Fault> {
    Ok(match &node.kind {
        Kind::Str(s) => Value::String(s.clone()),
        Kind::Num(raw) => serde_json::from_str(raw)
            .map_err(|e| Fault::new(node.at, ErrorKind::WrongType, format!("bad number: {e}")))?,
        Kind::Bool(b) => Value::Bool(*b),
        Kind::Null => Value::Null,
        Kind::List(list) => Value::Array(list.iter().map(to_value).collect::<Result<_, _>>()?),
        Kind::Object(items) => {
            let mut map = Map::new();
            for item in items {
                if map.contains_key(&item.key.name) {
                    return Err(item.key.given_twice());
                }
                let value = to_value(&item.value)?;
                if !value.is_null() {
                    map.insert(item.key.name.clone(), value);
                }
            }
            Value::Object(map)
        }
    })
}

/// Nomad's API docs (and this repository's `deploy/examples/volume.json`) write topologies as
/// `[{"foo": "bar"}]` where the type is `[{"Segments": {"foo": "bar"}}]`; the HTTP gateway reads
/// such an entry as its segments, and so does this, so that the file means the same either way.
fn docs_topologies(volume: &mut Value) {
    let Some(Value::Array(list)) = volume.get_mut("Topologies") else {
        return;
    };
    for entry in list {
        if let Value::Object(map) = entry
            && !map.contains_key("Segments")
            && map.values().all(Value::is_string)
        {
            let segments = std::mem::take(map);
            map.insert("Segments".to_string(), Value::Object(segments));
        }
    }
}

/// The offset of the deepest node along serde's `path`.
fn locate(root: &Node, path: &serde_path_to_error::Path) -> usize {
    use serde_path_to_error::Segment;
    let mut node = root;
    for segment in path.iter() {
        let next = match (segment, &node.kind) {
            (Segment::Map { key }, Kind::Object(items)) => {
                items.iter().find(|i| &i.key.name == key).map(|i| &i.value)
            }
            (Segment::Seq { index }, Kind::List(list)) => list.get(*index),
            _ => None,
        };
        match next {
            Some(next) => node = next,
            None => break,
        }
    }
    node.at
}

/// The document with every key and value's place, read with the HCL lexer's JSON dialect. The
/// syntax is already known good, so a fault here is a belt to serde_json's braces.
fn tree(text: &str) -> Result<Node, Fault> {
    let mut lexer = Lexer::new(text, Dialect::Json);
    let first = lexer.next_token()?;
    value(&mut lexer, first.tok, first.at)
}

fn value(lexer: &mut Lexer, tok: Tok, at: usize) -> Result<Node, Fault> {
    let kind = match tok {
        Tok::Str(s) => Kind::Str(s),
        Tok::Num(n) => Kind::Num(n),
        Tok::Ident(word) if word == "true" || word == "false" => Kind::Bool(word == "true"),
        Tok::Ident(word) if word == "null" => Kind::Null,
        Tok::LBrack => {
            let mut list = Vec::new();
            loop {
                let token = lexer.next_token()?;
                match token.tok {
                    Tok::RBrack => break,
                    Tok::Comma => {}
                    tok => list.push(value(lexer, tok, token.at)?),
                }
            }
            Kind::List(list)
        }
        Tok::LBrace => {
            let mut items = Vec::new();
            loop {
                let token = lexer.next_token()?;
                let key = match token.tok {
                    Tok::RBrace => break,
                    Tok::Comma => continue,
                    Tok::Str(name) => Key { name, at: token.at },
                    other => return Err(unexpected(&other, token.at)),
                };
                let colon = lexer.next_token()?;
                if colon.tok != Tok::Colon {
                    return Err(unexpected(&colon.tok, colon.at));
                }
                let token = lexer.next_token()?;
                let value = value(lexer, token.tok, token.at)?;
                items.push(Item {
                    key,
                    labels: Vec::new(),
                    value,
                });
            }
            Kind::Object(items)
        }
        other => return Err(unexpected(&other, at)),
    };
    Ok(Node { at, kind })
}

fn unexpected(tok: &Tok, at: usize) -> Fault {
    Fault::syntax(at, format!("unexpected {}", tok.describe()))
}
