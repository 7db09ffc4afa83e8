//! Test fixtures for the state's unit tests: applying commands, and a claimable volume `v`
//! with a healthy plugin `p`.

use super::apply::Touched;
use super::tables::State;
use stowage_proto::rules::ClaimRequest;
use stowage_proto::{
    AccessMode, AttachmentMode, Capability, ClaimMode, ClaimState, Command, Plugin, Request,
    Volume, VolumeKey,
};

/// Applies `command` at `index`, which must succeed, and returns what it touched.
pub(crate) fn apply(s: &mut State, command: Command, index: u64) -> Vec<Touched> {
    let mut touched = Vec::new();
    let req = Request {
        command,
        time_ns: 1_700_000_000_000_000_000,
        caller: None,
    };
    let answer = s.apply(&req, index, &mut touched);
    assert!(answer.result.is_ok(), "{:?}", answer.result);
    touched
}

/// The key of the volume `claimable` registers.
pub(crate) fn claimed_key() -> VolumeKey {
    VolumeKey::new("default", "v")
}

/// A claim request by `alloc` on `node` for the volume `claimable` registers.
pub(crate) fn claim(
    alloc: &str,
    node: &str,
    mode: ClaimMode,
    access: AccessMode,
    state: ClaimState,
) -> Command {
    Command::Claim {
        namespace: "default".into(),
        volume_id: "v".into(),
        request: ClaimRequest {
            allocation_id: alloc.into(),
            node_id: node.into(),
            external_node_id: String::new(),
            mode,
            access_mode: access,
            attachment_mode: AttachmentMode::FileSystem,
            state,
            job_id: String::new(),
            task_group: String::new(),
            name: String::new(),
        },
        cas: None,
    }
}

/// A state with a healthy plugin `p` (index 1) and a volume `v` of `access` mode on it (index
/// 2), so claims go through the real rules.
pub(crate) fn claimable(access: AccessMode) -> State {
    let mut s = State::default();
    let plugin = Plugin {
        id: "p".into(),
        nodes_healthy: 1,
        nodes_expected: 1,
        ..Default::default()
    };
    apply(&mut s, Command::UpsertPlugin { plugin }, 1);
    let volume = Volume {
        id: "v".into(),
        namespace: "default".into(),
        plugin_id: "p".into(),
        requested_capabilities: vec![Capability {
            access_mode: access,
            attachment_mode: AttachmentMode::FileSystem,
        }],
        ..Default::default()
    };
    let register = Command::RegisterVolumes {
        volumes: vec![volume],
        cas: None,
    };
    apply(&mut s, register, 2);
    s
}
