//! Resource subscriptions: `resources/subscribe` on 2025-11-25 sessions and the
//! `resourceSubscriptions` of a 2026-07-28 `subscriptions/listen` stream.
//!
//! Plugin resources are live upstream state that nobody pushes to capstan, so each watch reads
//! its resource again, as the subscriber, every poll interval (`resource_poll_interval`,
//! default [`DEFAULT_POLL_INTERVAL`]) and sends `notifications/resources/updated` when what it
//! reads differs from the previous read (a digest is kept, not the contents). Skill files are
//! watched the same way, so a reload that changes one is noticed. A resource that becomes
//! unreadable counts as updated: the subscriber's next read tells it why.
//!
//! A session or stream watches at most [`MAX_WATCHES`] resources. A watch ends when it is
//! unsubscribed, when its session's transport closes or its stream ends (dropping the
//! [`Watches`] stops them all), or when a notification cannot be delivered.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{Peer, RoleServer, SubscriptionSink};
use tokio_util::sync::CancellationToken;

use super::catalog::{self, Located};
use crate::egress::CallContext;
use crate::registry::Registry;

/// How often a watched resource is read again, unless configured.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// The shortest poll interval the settings accept.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Resources one session or listen stream may watch at once.
pub const MAX_WATCHES: usize = 16;

/// Where a watch tells its subscriber that the resource changed.
#[derive(Clone)]
pub enum Subscriber {
    /// A 2025-11-25 session, subscribed with `resources/subscribe`.
    Session(Peer<RoleServer>),
    /// A 2026-07-28 `subscriptions/listen` stream.
    Stream(SubscriptionSink),
}

impl Subscriber {
    /// Sends `notifications/resources/updated` for `uri`; false when it cannot be delivered.
    async fn updated(&self, uri: &str) -> bool {
        match self {
            Self::Session(peer) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .is_ok(),
            Self::Stream(sink) => sink.notify_resource_updated(uri).await.is_ok(),
        }
    }

    /// Whether the subscriber is gone for good.
    fn gone(&self) -> bool {
        match self {
            Self::Session(peer) => peer.is_transport_closed(),
            Self::Stream(_) => false,
        }
    }
}

/// How a watch reads its resource: from which plugins, as whom, how much, how often.
#[derive(Clone)]
pub struct Reading {
    /// The plugins serving resources.
    pub registry: Arc<Registry>,
    /// The subscriber's identity and the targets it may reach, as for its own reads.
    pub context: CallContext,
    /// Largest read, in bytes.
    pub cap: usize,
    /// Time between reads.
    pub interval: Duration,
}

/// The watches of one session or listen stream. Dropping it stops them all.
#[derive(Default)]
pub struct Watches {
    active: Mutex<HashMap<String, CancellationToken>>,
}

impl Watches {
    /// Starts watching `uri` for `subscriber` (watching it again changes nothing). An unknown
    /// URI, or one more than [`MAX_WATCHES`], is refused with `-32602` and nothing starts.
    pub fn add(
        &self,
        uri: &str,
        reading: Reading,
        subscriber: Subscriber,
    ) -> Result<(), ErrorData> {
        catalog::locate(&reading.registry.snapshot(), uri)?;
        let mut active = self.lock();
        if active.contains_key(uri) {
            return Ok(());
        }
        if active.len() >= MAX_WATCHES {
            return Err(ErrorData::invalid_params(
                format!(
                    "this session already watches {MAX_WATCHES} resources, the most it may; unsubscribe from one first"
                ),
                None,
            ));
        }
        let stop = CancellationToken::new();
        active.insert(uri.to_owned(), stop.clone());
        tokio::spawn(watch(uri.to_owned(), reading, subscriber, stop));
        Ok(())
    }

    /// Stops watching `uri`; unknown or unwatched URIs change nothing.
    pub fn remove(&self, uri: &str) {
        if let Some(stop) = self.lock().remove(uri) {
            stop.cancel();
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, CancellationToken>> {
        // Nothing panics while holding the lock; a poisoned lock still holds consistent state.
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Watches {
    fn drop(&mut self) {
        for stop in self.lock().values() {
            stop.cancel();
        }
    }
}

/// Reads `uri` every interval until `stop`, telling `subscriber` each time it changed.
async fn watch(uri: String, reading: Reading, subscriber: Subscriber, stop: CancellationToken) {
    let mut last = digest(&uri, &reading).await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(reading.interval) => {}
        }
        if subscriber.gone() {
            return;
        }
        let now = digest(&uri, &reading).await;
        if now != last {
            last = now;
            if !subscriber.updated(&uri).await {
                tracing::debug!(%uri, "resource watch ended: the subscriber cannot be told");
                return;
            }
        }
    }
}

/// A digest of what reading `uri` gives now; `None` when it cannot be read.
async fn digest(uri: &str, reading: &Reading) -> Option<u64> {
    let snapshot = reading.registry.snapshot();
    let text = match catalog::locate(&snapshot, uri).ok()? {
        Located::SkillFile(text) => text,
        Located::Plugin(instance, own) => {
            let read = catalog::read_plugin_resource(
                &instance,
                (uri, &own),
                reading.context.clone(),
                reading.cap,
            )
            .await
            .ok()?;
            serde_json::to_string(&read.contents).ok()?
        }
    };
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    Some(hasher.finish())
}

/// The URIs of `requested` that name a served resource, at most [`MAX_WATCHES`]: what a
/// listen stream's `resourceSubscriptions` is granted.
pub fn accepted(registry: &Registry, requested: &[String]) -> Vec<String> {
    let snapshot = registry.snapshot();
    requested
        .iter()
        .filter(|uri| catalog::locate(&snapshot, uri).is_ok())
        .take(MAX_WATCHES)
        .cloned()
        .collect()
}
