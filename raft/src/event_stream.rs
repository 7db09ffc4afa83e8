//! `/v1/event/stream` from a node: its recent events and then new ones, one JSON frame per
//! index in Nomad's framing (`{"Index":…,"Events":[{"Topic","Type","Key","Namespace","Index",
//! "Payload"}]}`), filtered by topic, key, namespace and the caller's rights, with `{}` as a
//! heartbeat every ten seconds. At each heartbeat the caller's token is checked again; a token
//! that was deleted or expired ends the stream. A subscriber that the ring of events overtook is
//! sent an error frame and cut off.

use crate::csi::{Csi, Store};
use crate::events::{Event, EventLog, Next, Topic};
use crate::forward::Forwarder;
use crate::state::State;
use futures::stream::{BoxStream, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use stowage_proto::VolumeKey;
use stowage_proto::acl::{Acl, PluginAccess, Token};
use stowage_proto::api::{ApiPlugin, ApiVolume, CsiError, EventQuery};
use tokio::time::Instant;

/// Nomad's heartbeat interval for event streams.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Events read from the ring per step, so one slow frame never holds the ring's lock long.
const PAGE: usize = 256;

struct Subscriber {
    csi: Csi<Forwarder>,
    token: Token,
    query: EventQuery,
    acl: Acl,
    cursor: u64,
    resume: bool,
    next_heartbeat: Instant,
    wake: tokio::sync::watch::Receiver<u64>,
    done: bool,
}

impl Subscriber {
    fn log(&self) -> &EventLog {
        self.csi.store().reader().events()
    }

    fn wanted(&self, e: &Event) -> bool {
        let topic_ok = self.query.topics.is_empty()
            || self.query.topics.iter().any(|(topic, key)| {
                (topic == "*" || Topic::parse(topic) == Some(e.topic))
                    && (key == "*" || *key == e.key)
            });
        let namespace_ok = e.topic != Topic::CsiVolume
            || self.query.namespace == "*"
            || self.query.namespace == e.namespace;
        let allowed = match e.topic {
            Topic::CsiVolume => self
                .acl
                .allows_namespace(&e.namespace, &["csi-read-volume"]),
            Topic::CsiPlugin => self.acl.allows_plugin(PluginAccess::Read),
        };
        topic_ok && namespace_ok && allowed
    }

    /// The frames for `events`, one per index, with payloads from the state as it is now.
    fn frames(&self, events: &[Event]) -> String {
        let reader = self.csi.store().reader();
        reader.read(|s| {
            let mut out = String::new();
            for group in events.chunk_by(|a, b| a.index == b.index) {
                let listed: Vec<Value> = group
                    .iter()
                    .filter(|e| self.wanted(e))
                    .map(|e| event_json(s, e))
                    .collect();
                if listed.is_empty() {
                    continue;
                }
                let frame = json!({ "Index": group[0].index, "Events": listed });
                out.push_str(&frame.to_string());
                out.push('\n');
            }
            out
        })
    }

    /// Checks the caller again: a token deleted or expired ends the stream, and narrowed
    /// rights apply from now on.
    async fn recheck(&mut self) -> Result<(), String> {
        self.next_heartbeat = Instant::now() + HEARTBEAT;
        match self.csi.rights(&self.token).await {
            Ok(acl) => {
                self.acl = acl;
                Ok(())
            }
            Err(e) => {
                self.done = true;
                Err(error_frame(&e.to_string()))
            }
        }
    }

    /// The next chunk of the stream, or `None` when it ends.
    async fn step(&mut self) -> Option<String> {
        loop {
            if self.done {
                return None;
            }
            // Every heartbeat interval, busy or not: a stream that always has events to send
            // must not keep serving a token that was revoked.
            if Instant::now() >= self.next_heartbeat
                && let Err(frame) = self.recheck().await
            {
                return Some(frame);
            }
            match self.log().after(self.cursor, PAGE, self.resume) {
                Next::Behind { oldest } => {
                    self.done = true;
                    return Some(error_frame(&format!(
                        "this stream fell behind: events after index {} are no longer held (the oldest is {oldest}); resubscribe with a newer index",
                        self.cursor
                    )));
                }
                Next::Events(events) if !events.is_empty() => {
                    self.resume = false;
                    self.cursor = events.last().map_or(self.cursor, |e| e.index);
                    let frames = self.frames(&events);
                    if !frames.is_empty() {
                        return Some(frames);
                    }
                }
                Next::Events(_) => {
                    self.resume = false;
                    let released = self.csi.store().reader().released();
                    tokio::select! {
                        changed = self.wake.changed() => if changed.is_err() { return None },
                        () = tokio::time::sleep_until(self.next_heartbeat) => {
                            return Some(match self.recheck().await {
                                Ok(()) => "{}\n".to_string(),
                                Err(frame) => frame,
                            });
                        }
                        () = released => return None,
                    }
                }
            }
        }
    }
}

fn error_frame(message: &str) -> String {
    format!("{}\n", json!({ "Error": message }))
}

fn event_json(s: &State, e: &Event) -> Value {
    let payload = match e.topic {
        Topic::CsiVolume => {
            let key = VolumeKey::new(&e.namespace, &e.key);
            let volume = s
                .volumes
                .get(&key)
                .map(|v| serde_json::to_value(ApiVolume::from_detail(&s.detail(v))));
            match volume {
                Some(Ok(v)) => json!({ "Volume": v }),
                _ => json!({ "Volume": { "ID": e.key, "Namespace": e.namespace } }),
            }
        }
        Topic::CsiPlugin => match s.plugins.get(&e.key).map(ApiPlugin::from_plugin) {
            Some(p) => json!({ "Plugin": p }),
            None => json!({ "Plugin": { "ID": e.key } }),
        },
    };
    json!({
        "Topic": e.topic.name(),
        "Type": e.kind,
        "Key": e.key,
        "Namespace": e.namespace,
        "FilterKeys": null,
        "Index": e.index,
        "Payload": payload,
    })
}

impl Csi<Forwarder> {
    /// The event stream for the caller holding `token`. The caller must hold a valid token
    /// (with ACLs on); what it may read decides which events it is sent.
    pub async fn event_stream(
        &self,
        token: Token,
        query: EventQuery,
    ) -> Result<BoxStream<'static, String>, CsiError> {
        let acl = self.rights(&token).await?;
        // A stream holds a node's resources as long as a blocking query, and counts as one.
        self.store().room_for_watcher()?;
        let log = self.store().reader().events();
        let wake = log.subscribe();
        let subscriber = Subscriber {
            csi: self.clone(),
            token,
            cursor: query.index,
            resume: true,
            query,
            acl,
            next_heartbeat: Instant::now() + HEARTBEAT,
            wake,
            done: false,
        };
        Ok(futures::stream::unfold(subscriber, |mut s| async move {
            let chunk = s.step().await?;
            Some((chunk, s))
        })
        .boxed())
    }
}
