//! A server running in its own task that stops within a bound: asked to stop, it drains for a
//! grace period, then whatever it still serves (a connection that never closes, a request that
//! never ends) is dropped, and the log says so.

use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Served {
    name: &'static str,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// What `serve` needs from a server: run until the given future resolves, then drain.
pub type StopSignal = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl Served {
    /// Spawns `serve`, handing it the future that resolves when `stop` is called.
    pub fn spawn<F>(name: &'static str, serve: impl FnOnce(StopSignal) -> F) -> Served
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let signal: StopSignal = Box::pin(async move {
            let _ = rx.await;
        });
        Served {
            name,
            stop: tx,
            task: tokio::spawn(serve(signal)),
        }
    }

    /// Asks the server to stop and waits up to `grace` for it to drain, then drops the rest.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            tracing::warn!(
                server = self.name,
                "still serving {} ms after being asked to stop (a connection that does not close, or a request that does not end); dropping what is left",
                grace.as_millis()
            );
            task.abort();
            let _ = task.await;
        }
    }
}
