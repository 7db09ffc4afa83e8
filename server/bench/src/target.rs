//! One system under test as the harness sees it: its client addresses, and its processes when
//! the harness started them (an outside cluster, such as compose, has none to kill or measure).

use crate::http::{Answer, Conn, Req};
use crate::procs::{Group, wait_until};
use crate::systems::{Kind, leader_request, named_leader};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Target {
    pub kind: Kind,
    pub addrs: Vec<SocketAddr>,
    pub group: Option<Group>,
}

const ADMIN_LIMIT: Duration = Duration::from_secs(10);

impl Target {
    pub fn started(kind: Kind, group: Group) -> Target {
        Target {
            kind,
            addrs: group.clients(),
            group: Some(group),
        }
    }

    /// Sends `req` to one member.
    pub async fn send_to(&self, i: usize, req: &Req) -> anyhow::Result<Answer> {
        Ok(Conn::new(self.addrs[i]).send(req, ADMIN_LIMIT).await?)
    }

    /// Sends `req` to each member in turn until one answers 2xx.
    pub async fn send_any(&self, req: &Req) -> anyhow::Result<Answer> {
        let mut last = None;
        for i in 0..self.addrs.len() {
            match self.send_to(i, req).await {
                Ok(a) if a.status.is_success() => return Ok(a),
                Ok(a) => {
                    last = Some(anyhow::anyhow!(
                        "{} {}: {}",
                        a.status,
                        req.path,
                        String::from_utf8_lossy(&a.body).trim()
                    ))
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no members")))
    }

    /// Whether member `i` answers its health check with 2xx.
    pub async fn healthy(&self, i: usize) -> bool {
        matches!(self.send_to(i, &self.kind.health()).await, Ok(a) if a.status.is_success())
    }

    /// Waits until every member is healthy and, for stowage, names a leader.
    pub async fn wait_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let name = self.kind.name();
        let this = &*self;
        let result = wait_until(&format!("{name} becoming ready"), limit, || async move {
            for i in 0..this.addrs.len() {
                if !this.healthy(i).await {
                    return false;
                }
            }
            this.kind != Kind::Stowage || this.leader_named().await
        })
        .await;
        if result.is_err()
            && let Some(g) = self.group.as_mut()
        {
            for i in 0..g.members.len() {
                g.check_alive(i)?;
            }
        }
        result.map(|_| ())
    }

    /// Sends `req` (a write) through any member and returns its `X-Nomad-Index`.
    pub async fn index_of(&self, req: &Req) -> anyhow::Result<u64> {
        let a = self.send_any(req).await?;
        a.index
            .ok_or_else(|| anyhow::anyhow!("the answer to {} carried no X-Nomad-Index", req.path))
    }

    /// Registers one volume through any member and returns the write's index.
    pub async fn write_index(&self, client: usize) -> anyhow::Result<u64> {
        self.index_of(&self.kind.write(client, 0)).await
    }

    /// Whether member `i` serves, from its own copy, state at least as new as `index`.
    pub async fn serves(&self, i: usize, index: u64) -> bool {
        let probe = Req::get("/v1/volumes?type=csi&per_page=1&stale");
        matches!(self.send_to(i, &probe).await, Ok(a) if a.status.is_success() && a.index >= Some(index))
    }

    /// The leader each member names, in member order (stowage only).
    async fn named_leaders(&self) -> Vec<Option<String>> {
        let mut named = Vec::with_capacity(self.addrs.len());
        for i in 0..self.addrs.len() {
            let answer = self.send_to(i, &leader_request()).await.ok();
            named.push(answer.as_ref().and_then(named_leader));
        }
        named
    }

    /// Whether some member names a leader (stowage only).
    pub async fn leader_named(&self) -> bool {
        self.named_leaders().await.iter().any(Option::is_some)
    }

    /// The member that leads, by the RPC address a member names (stowage, started here).
    pub async fn leader(&self) -> Option<usize> {
        let group = self.group.as_ref()?;
        let named = self.named_leaders().await;
        named.iter().flatten().find_map(|n| {
            group
                .members
                .iter()
                .find(|m| m.peer.to_string() == *n)
                .map(|m| m.index)
        })
    }

    /// The processes, for the scenarios that kill, restart or measure them.
    pub fn own_group(&mut self, scenario: &str) -> anyhow::Result<&mut Group> {
        self.group
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("{scenario} needs the harness's own cluster"))
    }

    /// Loads `ids` in requests of `batch`, `parallel` at a time, spread over the members.
    pub async fn load(
        &self,
        ids: Vec<String>,
        batch: usize,
        parallel: usize,
    ) -> anyhow::Result<()> {
        let chunks: Arc<Vec<Vec<String>>> =
            Arc::new(ids.chunks(batch).map(<[_]>::to_vec).collect());
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for worker in 0..parallel {
            let (chunks, next, kind) = (chunks.clone(), next.clone(), self.kind);
            let mut conn = Conn::new(self.addrs[worker % self.addrs.len()]);
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(chunk) = chunks.get(i) else {
                        return Ok(());
                    };
                    let a = conn.send(&kind.load(chunk), ADMIN_LIMIT).await?;
                    if !a.status.is_success() {
                        anyhow::bail!(
                            "loading into {}: {} {}",
                            kind.name(),
                            a.status,
                            String::from_utf8_lossy(&a.body).trim()
                        );
                    }
                }
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok(())
    }
}
