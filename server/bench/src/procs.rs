//! The three server processes of one system under test: started, killed, restarted, wiped and
//! measured (RSS) by the harness, and killed when the harness ends, however it ends.

use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How to start a member of a system, given every member (for the peer list); called again for
/// every restart.
pub type Launch = Box<dyn Fn(&Member, &[Member]) -> std::io::Result<Command> + Send + Sync>;

/// One member's fixed place: its addresses and its data.
#[derive(Clone, Debug)]
pub struct Member {
    pub index: usize,
    /// Where clients reach it.
    pub client: SocketAddr,
    /// Where its peers reach it.
    pub peer: SocketAddr,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

/// A three-member cluster of child processes.
pub struct Group {
    pub name: &'static str,
    pub members: Vec<Member>,
    launch: Launch,
    children: Vec<Option<Child>>,
}

/// A loopback port that was free a moment ago, below the kernel's ephemeral range: a killed
/// member's port must still be free when it restarts, and a port in that range may by then be
/// the source port of some other connection, or of a peer's own reconnect to it (a TCP
/// self-connect). The listener is dropped so the child can bind it; anything taking it in
/// between fails the start loudly.
pub fn free_addr() -> std::io::Result<SocketAddr> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| {
            r.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    for _ in 0..1000 {
        let port = rand::random_range(10_000..low.max(10_001));
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return l.local_addr();
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        "no free loopback port below the ephemeral range",
    ))
}

impl Group {
    /// Places three members under `root` on fresh loopback ports; starts nothing yet. A run
    /// starts from empty data: what an earlier run left under the same names is removed.
    pub fn new(
        name: &'static str,
        root: &std::path::Path,
        launch: Launch,
    ) -> anyhow::Result<Group> {
        let mut members = Vec::new();
        for index in 0..3 {
            let member = Member {
                index,
                client: free_addr()?,
                peer: free_addr()?,
                data_dir: root.join(format!("{name}{}", index + 1)),
                log: root.join(format!("{name}{}.log", index + 1)),
            };
            for gone in [
                std::fs::remove_dir_all(&member.data_dir),
                std::fs::remove_file(&member.log),
            ] {
                if let Err(e) = gone
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    return Err(e).context(format!("cannot clear {}", member.data_dir.display()));
                }
            }
            members.push(member);
        }
        Ok(Group {
            name,
            members,
            launch,
            children: vec![None, None, None],
        })
    }

    pub fn clients(&self) -> Vec<SocketAddr> {
        self.members.iter().map(|m| m.client).collect()
    }

    pub fn start_all(&mut self) -> anyhow::Result<()> {
        (0..self.members.len()).try_for_each(|i| self.start(i))
    }

    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        let member = &self.members[i];
        let mut cmd = (self.launch)(member, &self.members)
            .with_context(|| format!("cannot prepare {} member {}", self.name, i + 1))?;
        cmd.kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {} member {}", self.name, i + 1))?;
        self.children[i] = Some(child);
        Ok(())
    }

    /// SIGKILL, and wait until it is gone.
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.children[i].take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub async fn stop(&mut self, i: usize, grace: Duration) {
        if let Some(mut child) = self.children[i].take() {
            if let Some(pid) = child
                .id()
                .and_then(|p| i32::try_from(p).ok())
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            if tokio::time::timeout(grace, child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }

    pub fn wipe(&self, i: usize) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.members[i].data_dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The member's resident set in bytes, read from `/proc`.
    pub fn rss(&self, i: usize) -> Option<u64> {
        let pid = self.children[i].as_ref()?.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }

    /// Fails with the member's log tail if it exited on its own.
    pub fn check_alive(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(child) = self.children[i].as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            let log = std::fs::read_to_string(&self.members[i].log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            anyhow::bail!(
                "{} member {} exited ({status}); its log ends: {}",
                self.name,
                i + 1,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        Ok(())
    }
}

/// Polls `ready` until it is true, or fails after `limit` naming `what`; returns how long it took.
pub async fn wait_until<F, Fut>(
    what: &str,
    limit: Duration,
    mut ready: F,
) -> anyhow::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (_, took) = wait_for(what, limit, || {
        let fut = ready();
        async move { fut.await.then_some(()) }
    })
    .await?;
    Ok(took)
}

/// Polls `found` until it gives a value, or fails after `limit` naming `what`.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    limit: Duration,
    mut found: F,
) -> anyhow::Result<(T, Duration)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = found().await {
            return Ok((v, start.elapsed()));
        }
        if start.elapsed() > limit {
            anyhow::bail!("{what}: not within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
