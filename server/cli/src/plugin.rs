//! `stowage plugin status`: the CSI plugins, or one plugin's detail.

use crate::client::{Client, encode};
use crate::output::{Output, print_json};
use crate::table::{columns, pairs};
use anyhow::Context;
use stowage_proto::api::{ApiPlugin, PluginStub};

#[derive(Debug, Clone, clap::Subcommand)]
pub enum PluginCmd {
    /// List CSI plugins, or show one by ID.
    Status {
        #[command(flatten)]
        out: Output,
        id: Option<String>,
    },
}

pub async fn run(client: &Client, cmd: PluginCmd) -> anyhow::Result<()> {
    let PluginCmd::Status { out, id } = cmd;
    let Some(id) = id else {
        let plugins: Vec<PluginStub> = client
            .get("/v1/plugins?type=csi")
            .await
            .context("Error querying CSI plugins")?;
        if out.json {
            return print_json(&plugins);
        }
        if plugins.is_empty() {
            println!("No CSI plugins");
            return Ok(());
        }
        let rows: Vec<Vec<String>> = plugins
            .iter()
            .map(|p| {
                vec![
                    p.id.clone(),
                    p.provider.clone(),
                    format!("{}/{}", p.controllers_healthy, p.controllers_expected),
                    format!("{}/{}", p.nodes_healthy, p.nodes_expected),
                ]
            })
            .collect();
        println!(
            "{}",
            columns(
                &[
                    "ID",
                    "Provider",
                    "Controllers Healthy/Expected",
                    "Nodes Healthy/Expected"
                ],
                &rows
            )
        );
        return Ok(());
    };
    let plugin: ApiPlugin = client
        .get(&format!("/v1/plugin/csi/{}", encode(&id)))
        .await
        .context("Error querying CSI plugin")?;
    if out.json {
        return print_json(&plugin);
    }
    println!(
        "{}",
        pairs(&[
            ("ID", plugin.id.clone()),
            ("Provider", plugin.provider.clone()),
            ("Version", plugin.version.clone()),
            (
                "Controllers Healthy",
                plugin.controllers_healthy.to_string()
            ),
            (
                "Controllers Expected",
                plugin.controllers_expected.to_string()
            ),
            ("Nodes Healthy", plugin.nodes_healthy.to_string()),
            ("Nodes Expected", plugin.nodes_expected.to_string()),
        ])
    );
    Ok(())
}
