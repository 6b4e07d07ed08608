//! Shared state: the store, the journal, the keys derived from the master key,
//! and two views reloaded whenever the store says they changed.
//!
//! The scope catalogue and the key ring are held in memory, but every client
//! lookup returns their current revisions from the database in the same round
//! trip, so a change made by another node (or by the CLI) is seen by the very
//! next request: nothing here is served stale.

use crate::clock::Clock;
use crate::settings::ServerSettings;
use charter_core::digest::{DigestKey, MasterKey, SealingKey};
use charter_core::keys::{KeyError, KeyRing, SigningKey};
use charter_core::scope_policy::{Resource, ScopeDefinition, ScopePolicy};
use charter_store::{Journal, Revisions, Store, StoreError};
use std::sync::{Arc, RwLock};

/// The scope catalogue as of one revision.
#[derive(Debug, Default)]
pub struct CatalogueView {
    pub revision: i64,
    pub policy: ScopePolicy,
    pub scopes: Vec<ScopeDefinition>,
    pub resources: Vec<Resource>,
}

/// The key ring as of one revision.
#[derive(Debug, Default)]
pub struct KeyView {
    pub revision: i64,
    pub ring: KeyRing,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("stored signing key(s) {0} cannot be opened with this master key: is this node configured with the deployment's master key?")]
    WrongMasterKey(String),
}

pub struct Inner {
    pub store: Arc<dyn Store>,
    pub journal: Journal,
    pub digest_key: DigestKey,
    pub sealing_key: SealingKey,
    pub settings: ServerSettings,
    pub clock: Arc<dyn Clock>,
    catalogue: RwLock<Arc<CatalogueView>>,
    keys: RwLock<Arc<KeyView>>,
    reload: tokio::sync::Mutex<()>,
    pub observations: crate::observations::ObservationBuffer,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// How often introspection observations aggregated in memory are written.
pub const OBSERVATION_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads the catalogue and keys, makes a signing key if none signs now,
    /// and starts the journal. The schema must already be migrated.
    pub async fn start(
        store: Arc<dyn Store>,
        master_key: &MasterKey,
        settings: ServerSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<AppState, StartError> {
        let (journal, _writer) = Journal::start(store.clone(), settings.journal_queue);
        let state = AppState(Arc::new(Inner {
            store,
            journal,
            digest_key: master_key.digest_key(),
            sealing_key: master_key.sealing_key(),
            settings,
            clock,
            catalogue: RwLock::new(Arc::new(CatalogueView { revision: -1, ..Default::default() })),
            keys: RwLock::new(Arc::new(KeyView { revision: -1, ..Default::default() })),
            reload: tokio::sync::Mutex::new(()),
            observations: Default::default(),
        }));
        let unreadable: Vec<String> = state
            .store
            .keys()
            .await?
            .iter()
            .filter(|k| k.retired_at.is_none() && SigningKey::open(k, &state.sealing_key).is_err())
            .map(|k| k.kid.clone())
            .collect();
        if !unreadable.is_empty() {
            return Err(StartError::WrongMasterKey(unreadable.join(", ")));
        }
        let revisions = state.store.revisions().await?;
        state.reload_catalogue(revisions.catalogue).await?;
        state.reload_keys(revisions.keys).await?;
        state.ensure_signing_key().await?;
        let flusher = Arc::downgrade(&state.0);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(OBSERVATION_FLUSH);
            loop {
                tick.tick().await;
                match flusher.upgrade() {
                    Some(inner) => AppState(inner).flush_observations().await,
                    None => break,
                }
            }
        });
        Ok(state)
    }

    pub fn catalogue(&self) -> Arc<CatalogueView> {
        match self.catalogue.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn keys(&self) -> Arc<KeyView> {
        match self.keys.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Reloads whatever the database says has changed since this node last looked.
    pub async fn observe(&self, rev: Revisions) -> Result<(), StoreError> {
        if self.catalogue().revision != rev.catalogue {
            self.reload_catalogue(rev.catalogue).await?;
        }
        if self.keys().revision != rev.keys {
            self.reload_keys(rev.keys).await?;
        }
        Ok(())
    }

    /// Asks the database for its revisions, then reloads what changed.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let rev = self.store.revisions().await?;
        self.observe(rev).await
    }

    async fn reload_catalogue(&self, seen: i64) -> Result<(), StoreError> {
        let _g = self.reload.lock().await;
        if self.catalogue().revision == seen {
            return Ok(());
        }
        // Read the revision again inside: the view is labelled with the revision
        // read *before* its contents, so a concurrent change forces another reload.
        let revision = self.store.revisions().await?.catalogue;
        let scopes = self.store.scopes().await?;
        let resources = self.store.resources().await?;
        let view = CatalogueView { revision, policy: ScopePolicy::from_catalogue(&scopes), scopes, resources };
        if let Ok(mut w) = self.catalogue.write() {
            *w = Arc::new(view);
        }
        Ok(())
    }

    async fn reload_keys(&self, seen: i64) -> Result<(), StoreError> {
        let _g = self.reload.lock().await;
        if self.keys().revision == seen {
            return Ok(());
        }
        let revision = self.store.revisions().await?.keys;
        let stored = self.store.keys().await?;
        let mut keys = Vec::with_capacity(stored.len());
        for s in &stored {
            match SigningKey::open(s, &self.sealing_key) {
                Ok(k) => keys.push(k),
                Err(e) => tracing::error!(kid = %s.kid, error = %e, "a stored signing key cannot be opened with this master key; skipping it"),
            }
        }
        if let Ok(mut w) = self.keys.write() {
            *w = Arc::new(KeyView { revision, ring: KeyRing::new(keys) });
        }
        Ok(())
    }

    async fn ensure_signing_key(&self) -> Result<(), StartError> {
        let now = self.clock.now();
        if self.keys().ring.signer(now).is_some() {
            return Ok(());
        }
        let (_key, stored) = SigningKey::generate(self.settings.signing_alg, &self.sealing_key, now, now)?;
        self.store.insert_key(&stored).await?;
        tracing::info!(kid = %stored.kid, alg = %stored.alg, "made the first signing key");
        self.refresh().await?;
        Ok(())
    }

    /// Writes the introspection observations aggregated since the last flush.
    pub async fn flush_observations(&self) {
        let observations = self.observations.drain();
        if observations.is_empty() {
            return;
        }
        let n = observations.len();
        let batch = charter_store::WriteBatch { observations, ..Default::default() };
        if let Err(e) = self.journal.commit(batch).await {
            tracing::warn!(error = %e, observations = n, "introspection observations could not be written; dropped");
            metrics::counter!("charter_observations_dropped_total").increment(n as u64);
        }
    }

    /// Called after the HTTP server stopped. Every request already waited for
    /// its own commit, so the journal holds nothing; what is left is the
    /// observations aggregated in memory, flushed here.
    pub async fn shutdown(&self) {
        self.flush_observations().await;
        tracing::info!("charter stopped");
    }
}
