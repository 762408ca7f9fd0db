//! Change notifications: every connected client learns when the tool, prompt or resource
//! lists change.
//!
//! Legacy (2025-11-25) clients get `notifications/*/list_changed` on their MCP session's GET
//! stream: their peers are kept from `initialized` on and pruned when their transport closes.
//! 2026-07-28 clients get them on `subscriptions/listen` streams, tagged with their
//! subscription id.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::service::{Peer, RoleServer, SubscriptionSink};
use tokio::sync::Mutex;

use crate::registry::{ChangeListener, Changes};

/// Everyone to tell about changes. Clones share the same set of clients.
#[derive(Default, Clone)]
pub struct Broadcaster {
    inner: Arc<Clients>,
}

#[derive(Default)]
struct Clients {
    peers: Mutex<Vec<Peer<RoleServer>>>,
    subscriptions: Mutex<HashMap<u64, SubscriptionSink>>,
    next_subscription: AtomicU64,
}

impl ChangeListener for Broadcaster {
    /// Tells every connected client in a task of its own, so a slow client never holds up the
    /// reload that changed the lists.
    fn changed(&self, changes: Changes) {
        let broadcaster = self.clone();
        tokio::spawn(async move {
            let told = broadcaster.announce(changes).await;
            tracing::debug!(told, ?changes, "told clients the lists changed");
        });
    }
}

impl Broadcaster {
    /// Remembers a legacy session's peer.
    pub async fn add_peer(&self, peer: Peer<RoleServer>) {
        let mut peers = self.inner.peers.lock().await;
        peers.retain(|peer| !peer.is_transport_closed());
        peers.push(peer);
    }

    /// Registers a subscription stream; returns its key for [`Self::remove_subscription`].
    pub async fn add_subscription(&self, sink: SubscriptionSink) -> u64 {
        let key = self.inner.next_subscription.fetch_add(1, Ordering::Relaxed);
        self.inner.subscriptions.lock().await.insert(key, sink);
        key
    }

    /// Forgets a subscription stream.
    pub async fn remove_subscription(&self, key: u64) {
        self.inner.subscriptions.lock().await.remove(&key);
    }

    /// Tells every connected client about `changes`; returns how many were told.
    pub async fn announce(&self, changes: Changes) -> usize {
        let mut told = 0;
        let peers: Vec<_> = {
            let mut peers = self.inner.peers.lock().await;
            peers.retain(|peer| !peer.is_transport_closed());
            peers.clone()
        };
        for peer in peers {
            let tools = !changes.tools || peer.notify_tool_list_changed().await.is_ok();
            let prompts = !changes.prompts || peer.notify_prompt_list_changed().await.is_ok();
            let resources = !changes.resources || peer.notify_resource_list_changed().await.is_ok();
            told += usize::from(tools && prompts && resources);
        }
        let sinks: Vec<_> = self
            .inner
            .subscriptions
            .lock()
            .await
            .values()
            .cloned()
            .collect();
        for sink in sinks {
            let tools = !changes.tools || sink.notify_tool_list_changed().await.is_ok();
            let prompts = !changes.prompts || sink.notify_prompt_list_changed().await.is_ok();
            let resources = !changes.resources || sink.notify_resource_list_changed().await.is_ok();
            told += usize::from(tools && prompts && resources);
        }
        told
    }
}
