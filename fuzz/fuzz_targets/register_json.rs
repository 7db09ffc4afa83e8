//! A register body, as any client may send it: decoding, the rules every volume is held to, and
//! the log entry it would become must never panic, and an accepted command must survive the
//! log's encoding unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_proto::{Command, codec};

fuzz_target!(|body: &[u8]| {
    let Ok(req) = stowage_http_gateway::decode_register(body, Some("fuzzed"), None) else {
        return;
    };
    let Ok(volumes) = req
        .volumes
        .iter()
        .map(|spec| spec.to_volume(&req.namespace))
        .collect::<Result<Vec<_>, _>>()
    else {
        return;
    };
    let command = Command::RegisterVolumes {
        volumes,
        cas: req.cas,
    };
    if command.check().is_err() {
        return;
    }
    let bytes = codec::encode(&command).expect("an accepted command encodes");
    let back: Command = codec::decode(&bytes).expect("an encoded command decodes");
    assert_eq!(back, command, "the log changed an accepted command");
});
