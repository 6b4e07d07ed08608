//! Group commit: many requests' writes, one transaction.
//!
//! Every issued token and its audit event must be durable before the response
//! leaves, and one transaction per request cannot reach the throughput the
//! token endpoint needs. Requests hand their [`WriteBatch`] to the journal and
//! wait; a single writer task takes everything queued, commits it in one
//! transaction, and answers each waiter. If a merged batch fails on its data
//! (a conflict, a missing row), each part is retried on its own, so one bad
//! write never fails its neighbours; if the database is unavailable, every
//! waiter is told at once. A waiter gives up after [`COMMIT_DEADLINE`].

use crate::{Store, StoreError, WriteBatch};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most requests merged into one transaction.
pub const MAX_JOBS_PER_COMMIT: usize = 1024;

/// How long a request waits for its commit before answering that storage is unavailable.
pub const COMMIT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

struct Job {
    batch: WriteBatch,
    done: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Job>,
}

impl Journal {
    /// Starts the writer task. It ends once every `Journal` clone is dropped and the queue is drained.
    pub fn start(store: Arc<dyn Store>, queue: usize) -> (Journal, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let handle = tokio::spawn(writer(store, rx));
        (Journal { tx }, handle)
    }

    /// Returns once `batch` is committed (durable), or with the error that stopped it.
    pub async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job { batch, done })
            .await
            .map_err(|_| StoreError::Unavailable("the journal writer has stopped".into()))?;
        match tokio::time::timeout(COMMIT_DEADLINE, wait).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(e))) => Err(StoreError::Unavailable(e)),
            Ok(Err(_)) => Err(StoreError::Unavailable("the journal writer has stopped".into())),
            Err(_) => Err(StoreError::Unavailable("the commit did not complete in time".into())),
        }
    }

    /// Whether the writer task is still running (for readiness).
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(64);
    while rx.recv_many(&mut jobs, MAX_JOBS_PER_COMMIT).await > 0 {
        let merged_storage;
        let merged = if jobs.len() == 1 {
            &jobs[0].batch
        } else {
            let mut m = WriteBatch::default();
            for j in &jobs {
                m.append(j.batch.clone());
            }
            merged_storage = m;
            &merged_storage
        };
        match store.write_batch(merged).await {
            Ok(()) => {
                metrics::histogram!("charter_journal_batch_jobs").record(jobs.len() as f64);
                for j in jobs.drain(..) {
                    let _ = j.done.send(Ok(()));
                }
            }
            Err(e @ (StoreError::Conflict(_) | StoreError::NotFound(_))) if jobs.len() > 1 => {
                tracing::warn!(error = %e, jobs = jobs.len(), "merged journal commit refused; retrying each write alone");
                for j in jobs.drain(..) {
                    let r = store.write_batch(&j.batch).await.map_err(|e| e.to_string());
                    let _ = j.done.send(r);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "journal commit failed");
                for j in jobs.drain(..) {
                    let _ = j.done.send(Err(e.to_string()));
                }
            }
        }
    }
}
