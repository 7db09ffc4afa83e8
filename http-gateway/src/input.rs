//! Decoding a register body the way Nomad's Go decoder does (case-insensitive keys, unknown keys
//! ignored, `null` meaning "not given"), accepting both Nomad's `{"Volumes":[…]}` wrapper and the
//! bare volume object of the user's API page, into the endpoint's `RegisterRequest`. Fields the
//! server owns are not part of `VolumeSpec`, so they are dropped here.

use crate::error::ApiError;
use serde::Deserialize;
use serde_json::{Map, Value};
use stowage_proto::api::{RegisterRequest, VolumeSpec};

/// Every field name a register body may use, in its canonical spelling.
const FIELDS: &[&str] = &[
    "Volumes",
    "PolicyOverride",
    "Region",
    "Namespace",
    "AuthToken",
    "IdempotencyToken",
    "SecretID",
    "Timestamp",
    "ID",
    "Name",
    "ExternalID",
    "RequestedTopologies",
    "Topologies",
    "AccessMode",
    "AttachmentMode",
    "MountOptions",
    "FSType",
    "MountFlags",
    "Secrets",
    "Parameters",
    "Context",
    "Capacity",
    "RequestedCapacityMin",
    "RequestedCapacityMax",
    "RequestedCapabilities",
    "CloneID",
    "SnapshotID",
    "PluginID",
    "ResourceExhausted",
    "Segments",
    "Required",
    "Preferred",
];

/// Objects whose keys are data, not field names: never re-cased.
const MAPS: &[&str] = &["Secrets", "Parameters", "Context", "Segments"];

/// Re-cases known field names and drops `null` members, recursively, as Go's decoder would see
/// them. Keys of map-valued fields are left alone.
fn canonicalize(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if v.is_null() {
                    continue;
                }
                let key = FIELDS
                    .iter()
                    .find(|f| f.eq_ignore_ascii_case(&k))
                    .map_or(k, |f| f.to_string());
                let v = match key.as_str() {
                    k if MAPS.contains(&k) => v,
                    "Topologies" => docs_topologies(v),
                    _ => canonicalize(v),
                };
                // Go keeps the last of duplicate keys.
                out.insert(key, v);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonicalize).collect()),
        other => other,
    }
}

/// Nomad's docs (and the user's API page) show topologies as `[{"foo": "bar"}]`; the real shape
/// is `[{"Segments": {"foo": "bar"}}]`. An entry with no `Segments` key whose values are all
/// strings is read as the segments themselves, so the documented sample means what it says.
fn docs_topologies(v: Value) -> Value {
    let Value::Array(items) = v else {
        return canonicalize(v);
    };
    let fix = |item: Value| match item {
        Value::Object(m)
            if !m.keys().any(|k| k.eq_ignore_ascii_case("Segments"))
                && m.values().all(Value::is_string) =>
        {
            let mut wrapped = Map::new();
            wrapped.insert("Segments".to_string(), Value::Object(m));
            Value::Object(wrapped)
        }
        other => canonicalize(other),
    };
    Value::Array(items.into_iter().map(fix).collect())
}

/// Go-flavoured text for a serde type error at `path`, e.g. «json: cannot unmarshal string into
/// Go struct field CSIVolume.Capacity of type int64».
fn type_error(root: &str, path: &str, err: &serde_json::Error) -> String {
    let msg = err.to_string();
    let found = msg
        .strip_prefix("invalid type: ")
        .and_then(|r| r.split([',', ' ']).next())
        .map(|k| match k {
            "integer" | "floating" => "number",
            "map" => "object",
            "sequence" => "array",
            "boolean" => "bool",
            other => other,
        });
    let expected = msg.rsplit("expected ").next().map(|e| {
        let e = e.split(" at line").next().unwrap_or(e);
        match e {
            "i64" => "int64".to_string(),
            "u64" => "uint64".to_string(),
            "a string" => "string".to_string(),
            "a boolean" => "bool".to_string(),
            "a sequence" => "array".to_string(),
            "a map" => "map[string]string".to_string(),
            other => other.trim_start_matches("struct ").to_string(),
        }
    });
    let field: String = path
        .split('.')
        .map(|s| s.split('[').next().unwrap_or(s))
        .collect::<Vec<_>>()
        .join(".");
    match (found, expected) {
        (Some(found), Some(expected)) => {
            format!(
                "json: cannot unmarshal {found} into Go struct field {root}.{field} of type {expected}"
            )
        }
        _ => format!("json: {msg}"),
    }
}

/// Go's decoder message for a syntax error, as near as the error's position allows.
fn syntax_error(body: &[u8], err: &serde_json::Error) -> String {
    if err.is_eof() {
        return "unexpected EOF".to_string();
    }
    let text = String::from_utf8_lossy(body);
    let line = text.lines().nth(err.line().saturating_sub(1)).unwrap_or("");
    match line.chars().nth(err.column().saturating_sub(1)) {
        Some(c) => format!("invalid character {c:?} looking for beginning of value"),
        None => format!("invalid JSON: {err}"),
    }
    .replace('"', "'")
}

fn decode_volume(root: &str, v: Value) -> Result<VolumeSpec, ApiError> {
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(&v, &mut track);
    VolumeSpec::deserialize(de)
        .map_err(|e| ApiError::BadRequest(type_error(root, &track.path().to_string(), &e)))
}

/// Decodes a register body. `path_id` is the `:id` of `/v1/volume/csi/:id`, if any; `namespace`
/// the request's (`?namespace=`, defaulting to `default`).
pub fn decode_register(
    body: &[u8],
    path_id: Option<&str>,
    namespace: Option<String>,
) -> Result<RegisterRequest, ApiError> {
    if body.is_empty() {
        return Err(ApiError::BadRequest("Request body is empty".into()));
    }
    // Go reads only the first JSON value and ignores what follows.
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let value = match stream.next() {
        Some(Ok(v)) => canonicalize(v),
        Some(Err(e)) => return Err(ApiError::BadRequest(syntax_error(body, &e))),
        None => return Err(ApiError::BadRequest("EOF".into())),
    };
    let missing = || ApiError::BadRequest("missing volume definition".into());
    let obj = match value {
        Value::Object(o) => o,
        Value::Null => return Err(missing()),
        other => {
            let kind = match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            };
            return Err(ApiError::BadRequest(format!(
                "json: cannot unmarshal {kind} into Go value of type structs.CSIVolumeRegisterRequest"
            )));
        }
    };
    if obj.contains_key("Volumes") {
        // Nomad's wrapper. As in Nomad, the path ID is not read, and a top-level Namespace is
        // the request namespace when the query does not name one.
        let ns = namespace
            .or_else(|| {
                obj.get("Namespace")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "default".to_string());
        let list = match obj.get("Volumes") {
            Some(Value::Array(list)) => list.clone(),
            Some(_) => {
                return Err(ApiError::BadRequest(
                    "json: cannot unmarshal object into Go struct field CSIVolumeRegisterRequest.Volumes of type []*structs.CSIVolume".into(),
                ));
            }
            None => vec![],
        };
        let volumes = list
            .into_iter()
            .filter(|v| !v.is_null())
            .map(|v| decode_volume("CSIVolumeRegisterRequest.Volumes", v))
            .collect::<Result<Vec<_>, _>>()?;
        if volumes.is_empty() {
            return Err(missing());
        }
        return Ok(RegisterRequest {
            namespace: ns,
            volumes,
            cas: None,
        });
    }
    // The bare volume of the user's API page.
    let ns = namespace.unwrap_or_else(|| "default".to_string());
    let mut volume = decode_volume("CSIVolume", Value::Object(obj))?;
    match path_id.filter(|p| !p.is_empty()) {
        Some(p) if volume.id.is_empty() => volume.id = p.to_string(),
        Some(p) if volume.id != p => {
            return Err(ApiError::BadRequest(format!(
                "volume ID {:?} in the body does not match {p:?} in the path",
                volume.id
            )));
        }
        _ => {}
    }
    Ok(RegisterRequest {
        namespace: ns,
        volumes: vec![volume],
        cas: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_proto::{AccessMode, AttachmentMode, Capability, Volume};

    fn decode(body: &str, path: Option<&str>) -> Result<Vec<VolumeSpec>, String> {
        let req = decode_register(body.as_bytes(), path, None).map_err(|e| e.to_string())?;
        assert_eq!(req.namespace, "default");
        Ok(req.volumes)
    }

    /// What the endpoint will make of the one volume of `body`.
    fn volume(body: &str, path: Option<&str>) -> Volume {
        decode(body, path).expect("decodes")[0]
            .to_volume("default")
            .expect("valid")
    }

    #[test]
    fn accepts_the_wrapper_with_any_key_case_and_ignores_the_path_id() {
        let vols = decode(
            r#"{"volumes":[{"id":"a","pluginid":"p","PARAMETERS":{"Key":"v"}}],"Region":""}"#,
            Some("zzz"),
        )
        .expect("ok");
        assert_eq!(
            (vols[0].id.as_str(), vols[0].plugin_id.as_str()),
            ("a", "p")
        );
        assert_eq!(
            vols[0].parameters.get("Key").map(String::as_str),
            Some("v"),
            "map keys keep their case"
        );
        assert_eq!(vols[0].namespace, "", "the request's namespace applies");
    }

    #[test]
    fn accepts_the_bare_volume_of_the_users_page() {
        let body = r#"{ "ID": "volume-id1", "Name": "volume id1", "Namespace": "default", "ExternalID": "volume-id1",
            "Topologies": [{ "foo": "bar" }], "AccessMode": "multi-node-single-writer",
            "AttachmentMode": "file-system", "PluginID": "plugin-id1"}"#;
        let v = volume(body, Some("volume-id1"));
        assert_eq!(v.id, "volume-id1");
        // Current modes are the server's; with no RequestedCapabilities, the given pair is the
        // requested capability, and the docs-shaped topology is read as its segments.
        assert_eq!(v.access_mode, AccessMode::Unset);
        assert_eq!(
            v.requested_capabilities,
            vec![Capability {
                access_mode: AccessMode::MultiNodeSingleWriter,
                attachment_mode: AttachmentMode::FileSystem
            }]
        );
        assert_eq!(
            v.topologies[0].segments.get("foo").map(String::as_str),
            Some("bar")
        );
        assert_eq!(
            decode(r#"{"PluginID":"p"}"#, Some("from-path")).expect("ok")[0].id,
            "from-path"
        );
        assert_eq!(
            decode(r#"{"ID":"a"}"#, Some("b")),
            Err(r#"volume ID "a" in the body does not match "b" in the path"#.to_string())
        );
    }

    #[test]
    fn bad_bodies_get_go_decoder_texts() {
        assert_eq!(decode("", None), Err("Request body is empty".into()));
        assert_eq!(
            decode("x", None),
            Err("invalid character 'x' looking for beginning of value".into())
        );
        assert_eq!(decode("{\"Volumes\":[", None), Err("unexpected EOF".into()));
        assert_eq!(
            decode("null", None),
            Err("missing volume definition".into())
        );
        assert_eq!(
            decode(r#"{"Volumes":[]}"#, None),
            Err("missing volume definition".into())
        );
        assert_eq!(
            decode(r#"{"Volumes":{}}"#, None),
            Err("json: cannot unmarshal object into Go struct field CSIVolumeRegisterRequest.Volumes of type []*structs.CSIVolume".into())
        );
        assert_eq!(
            decode(r#"{"Volumes":[{"ID":"a","Capacity":"big"}]}"#, None),
            Err("json: cannot unmarshal string into Go struct field CSIVolumeRegisterRequest.Volumes.Capacity of type int64".into())
        );
        assert_eq!(
            decode(r#"{"ID":"a","Capacity":"big"}"#, None),
            Err("json: cannot unmarshal string into Go struct field CSIVolume.Capacity of type int64".into())
        );
    }
}
