//! Nomad's ACL system as far as CSI volumes, plugins and namespaces need it: the policy
//! language (HCL or its JSON form), what a set of policies allows once merged, and the token
//! types. Every check is a pure function of the replicated policies and tokens.

mod merged;
mod policy;
mod strict_json;
mod token;

pub use merged::{Acl, NsCapability, PluginAccess};
pub use policy::{PluginPolicy, PolicyRules, parse_rules};
pub use token::{
    AclPolicy, AclToken, Token, TokenKind, check_policy, check_token, compile_policy_rules,
    hash_secret, is_uuid, new_uuid, policy_problems, token_problems,
};
