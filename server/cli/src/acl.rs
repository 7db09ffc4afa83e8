//! `stowage acl …` and `stowage namespace …`: bootstrap, policies, tokens and namespaces, as
//! Nomad's commands of those names.

use crate::client::{Client, encode};
use crate::output::{Output, print_json};
use crate::table::{columns, pairs};
use anyhow::Context;
use reqwest::Method;
use serde_json::json;
use stowage_proto::api::{AclPolicyStub, AclTokenStub, ApiAclToken, ApiNamespace};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AclCmd {
    /// Create the first management token (once per cluster).
    Bootstrap {
        #[command(flatten)]
        out: Output,
    },
    #[command(subcommand)]
    Policy(PolicyCmd),
    #[command(subcommand)]
    Token(TokenCmd),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum PolicyCmd {
    /// Create or update a policy from a rules file (HCL or JSON), `-` for stdin.
    Apply {
        #[arg(long, default_value = "")]
        description: String,
        name: String,
        file: String,
    },
    List {
        #[command(flatten)]
        out: Output,
    },
    Delete {
        name: String,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCmd {
    /// Create a token: `client` with policies, or `management`.
    Create {
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long = "type", default_value = "client")]
        kind: String,
        /// A policy to attach; repeat for several.
        #[arg(long = "policy")]
        policies: Vec<String>,
        /// How long the token lives, as a Go duration ("8h").
        #[arg(long)]
        ttl: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    List {
        #[command(flatten)]
        out: Output,
    },
    Delete {
        accessor_id: String,
    },
    /// Show the token this command runs with.
    #[command(name = "self")]
    Own {
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum NamespaceCmd {
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Create or update a namespace.
    Apply {
        #[arg(long, default_value = "")]
        description: String,
        name: String,
    },
    Delete {
        name: String,
    },
}

fn show_token(t: &ApiAclToken, out: Output) -> anyhow::Result<()> {
    if out.json {
        return print_json(t);
    }
    let policies = match t.policies.as_deref() {
        Some(p) if !p.is_empty() => p.join(", "),
        _ => "n/a".into(),
    };
    println!(
        "{}",
        pairs(&[
            ("Accessor ID", t.accessor_id.clone()),
            ("Secret ID", t.secret_id.clone()),
            ("Name", t.name.clone()),
            ("Type", t.r#type.clone()),
            ("Global", t.global.to_string()),
            ("Create Time", t.create_time.clone()),
            (
                "Expiry Time",
                t.expiration_time.clone().unwrap_or_else(|| "<none>".into())
            ),
            ("Create Index", t.create_index.to_string()),
            ("Policies", policies),
        ])
    );
    Ok(())
}

fn read_file_or_stdin(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .context("Error reading stdin")?;
        return Ok(text);
    }
    std::fs::read_to_string(file).with_context(|| format!("Error reading file {file:?}"))
}

pub async fn run(client: &Client, cmd: AclCmd) -> anyhow::Result<()> {
    match cmd {
        AclCmd::Bootstrap { out } => {
            let token: ApiAclToken = serde_json::from_value(
                client
                    .write::<()>(Method::POST, "/v1/acl/bootstrap", None)
                    .await
                    .context("Error bootstrapping")?
                    .context("Error bootstrapping: the answer was empty")?,
            )?;
            show_token(&token, out)
        }
        AclCmd::Policy(PolicyCmd::Apply {
            description,
            name,
            file,
        }) => {
            let rules = read_file_or_stdin(&file)?;
            let body = json!({ "Name": name, "Description": description, "Rules": rules });
            client
                .write(
                    Method::PUT,
                    &format!("/v1/acl/policy/{}", encode(&name)),
                    Some(&body),
                )
                .await
                .context("Error writing ACL policy")?;
            println!("Successfully wrote {name:?} ACL policy!");
            Ok(())
        }
        AclCmd::Policy(PolicyCmd::List { out }) => {
            let list: Vec<AclPolicyStub> = client
                .get("/v1/acl/policies")
                .await
                .context("Error listing ACL policies")?;
            if out.json {
                return print_json(&list);
            }
            if list.is_empty() {
                println!("No policies found");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|p| vec![p.name.clone(), p.description.clone()])
                .collect();
            println!("{}", columns(&["Name", "Description"], &rows));
            Ok(())
        }
        AclCmd::Policy(PolicyCmd::Delete { name }) => {
            client
                .write::<()>(
                    Method::DELETE,
                    &format!("/v1/acl/policy/{}", encode(&name)),
                    None,
                )
                .await
                .context("Error deleting ACL policy")?;
            println!("Successfully deleted {name:?} ACL policy!");
            Ok(())
        }
        AclCmd::Token(cmd) => token(client, cmd).await,
    }
}

async fn token(client: &Client, cmd: TokenCmd) -> anyhow::Result<()> {
    match cmd {
        TokenCmd::Create {
            name,
            kind,
            policies,
            ttl,
            out,
        } => {
            let mut body = json!({ "Name": name, "Type": kind, "Policies": policies });
            if let Some(ttl) = ttl {
                body["ExpirationTTL"] = json!(ttl);
            }
            let token: ApiAclToken = serde_json::from_value(
                client
                    .write(Method::PUT, "/v1/acl/token", Some(&body))
                    .await
                    .context("Error creating token")?
                    .context("Error creating token: the answer was empty")?,
            )?;
            show_token(&token, out)
        }
        TokenCmd::List { out } => {
            let list: Vec<AclTokenStub> = client
                .get("/v1/acl/tokens")
                .await
                .context("Error listing tokens")?;
            if out.json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.r#type.clone(),
                        t.global.to_string(),
                        t.accessor_id.clone(),
                        t.expiration_time.clone().unwrap_or_else(|| "<none>".into()),
                    ]
                })
                .collect();
            println!(
                "{}",
                columns(&["Name", "Type", "Global", "Accessor ID", "Expired"], &rows)
            );
            Ok(())
        }
        TokenCmd::Delete { accessor_id } => {
            let path = format!("/v1/acl/token/{}", encode(&accessor_id));
            client
                .write::<()>(Method::DELETE, &path, None)
                .await
                .context("Error deleting token")?;
            println!("Token {accessor_id} successfully deleted");
            Ok(())
        }
        TokenCmd::Own { out } => {
            let token: ApiAclToken = client
                .get("/v1/acl/token/self")
                .await
                .context("Error fetching self token")?;
            show_token(&token, out)
        }
    }
}

pub async fn namespace(client: &Client, cmd: NamespaceCmd) -> anyhow::Result<()> {
    match cmd {
        NamespaceCmd::List { out } => {
            let list: Vec<ApiNamespace> = client
                .get("/v1/namespaces")
                .await
                .context("Error retrieving namespaces")?;
            if out.json {
                return print_json(&list);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|n| vec![n.name.clone(), n.description.clone()])
                .collect();
            println!("{}", columns(&["Name", "Description"], &rows));
            Ok(())
        }
        NamespaceCmd::Apply { description, name } => {
            let body = json!({ "Name": name, "Description": description });
            client
                .write(
                    Method::PUT,
                    &format!("/v1/namespace/{}", encode(&name)),
                    Some(&body),
                )
                .await
                .context("Error applying namespace specification")?;
            println!("Successfully applied namespace {name:?}!");
            Ok(())
        }
        NamespaceCmd::Delete { name } => {
            client
                .write::<()>(
                    Method::DELETE,
                    &format!("/v1/namespace/{}", encode(&name)),
                    None,
                )
                .await
                .context("Error deleting namespace")?;
            println!("Successfully deleted namespace {name:?}!");
            Ok(())
        }
    }
}
