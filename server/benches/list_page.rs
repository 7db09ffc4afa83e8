//! How long one page of `GET /v1/volumes` takes with 100,000 volumes registered: the first
//! page, a page from the middle (`next_token`), a plugin-prefix page, a page of a plugin whose
//! 100 volumes sort after all the others (the whole table is passed over), and a filtered page,
//! through the real router over the real apply. Prints medians and percentiles; asserts nothing
//! on time.

use axum::body::{Body, to_bytes};
use axum::http::Request;
use std::time::{Duration, Instant};
use stowage_proto::{AccessMode, AttachmentMode, Capability, Command, Plugin, Volume};
use stowage_testkit::StateBackend;
use tower::ServiceExt;

const VOLUMES: usize = 100_000;
const PLUGINS: usize = 10;
const ROUNDS: usize = 200;

fn volume(i: usize) -> Volume {
    Volume {
        id: format!("vol-{i:06}"),
        namespace: "default".into(),
        plugin_id: format!("plugin-{}", i % PLUGINS),
        parameters: [("tier".to_string(), format!("t{}", i % 3))].into(),
        requested_capabilities: vec![Capability {
            access_mode: AccessMode::MultiNodeMultiWriter,
            attachment_mode: AttachmentMode::FileSystem,
        }],
        ..Default::default()
    }
}

async fn page(b: &StateBackend, uri: &str) -> (Duration, usize) {
    let req = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let start = Instant::now();
    let resp = stowage_http_gateway::router(b.clone())
        .oneshot(req)
        .await
        .expect("infallible");
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    let body = to_bytes(resp.into_body(), 1 << 26).await.expect("body");
    let took = start.elapsed();
    let items: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("json");
    (took, items.len())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let b = StateBackend::new();
    for p in 0..PLUGINS {
        let plugin = Plugin {
            id: format!("plugin-{p}"),
            provider: "bench".into(),
            nodes_healthy: 1,
            ..Default::default()
        };
        b.write(Command::UpsertPlugin { plugin }).await;
    }
    let load = Instant::now();
    for chunk in (0..VOLUMES).collect::<Vec<_>>().chunks(1000) {
        let volumes = chunk.iter().map(|i| volume(*i)).collect();
        let resp = b
            .write(Command::RegisterVolumes { volumes, cas: None })
            .await;
        assert!(resp.result.is_ok());
    }
    let rare: Vec<Volume> = (0..100)
        .map(|i| Volume {
            id: format!("zz-{i:03}"),
            plugin_id: "rare".into(),
            ..volume(i)
        })
        .collect();
    let resp = b
        .write(Command::RegisterVolumes {
            volumes: rare,
            cas: None,
        })
        .await;
    assert!(resp.result.is_ok());
    println!(
        "list_page: {} volumes registered in {:?}",
        VOLUMES + 100,
        load.elapsed()
    );
    let scenarios = [
        (
            "first page",
            "/v1/volumes?type=csi&per_page=100".to_string(),
        ),
        (
            "middle page",
            "/v1/volumes?type=csi&per_page=100&next_token=default.vol-050000".to_string(),
        ),
        (
            "plugin_id page",
            "/v1/volumes?type=csi&per_page=100&plugin_id=plugin-7".to_string(),
        ),
        (
            "rare plugin page",
            "/v1/volumes?type=csi&per_page=100&plugin_id=rare".to_string(),
        ),
        (
            "filtered page",
            "/v1/volumes?type=csi&per_page=100&filter=Parameters.tier%20%3D%3D%20%22t1%22"
                .to_string(),
        ),
    ];
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10}",
        "scenario", "p50", "p90", "p99", "pages/s"
    );
    for (name, uri) in scenarios {
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let (took, n) = page(&b, &uri).await;
            assert_eq!(n, 100, "{name}");
            times.push(took);
        }
        times.sort();
        let p50 = percentile(&times, 0.5);
        println!(
            "{name:<16} {:>10.3?} {:>10.3?} {:>10.3?} {:>10.0}",
            p50,
            percentile(&times, 0.9),
            percentile(&times, 0.99),
            1.0 / p50.as_secs_f64()
        );
    }
}
