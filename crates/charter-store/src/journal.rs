//! Group commit: many requests' writes, one transaction.
//!
//! Every issued token and its audit event must be durable before the response
//! leaves, and one transaction per request cannot reach the throughput the
//! token endpoint needs. Requests hand their [`WriteBatch`] to the journal and
//! wait; a single writer task takes everything queued, commits it in one
//! transaction, and answers each waiter. If a merged batch fails, each part is
//! retried on its own, so one bad write never fails its neighbours.

use crate::{Store, StoreError, WriteBatch};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most requests merged into one transaction.
pub const MAX_JOBS_PER_COMMIT: usize = 1024;

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
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(e)),
            Err(_) => Err(StoreError::Unavailable("the journal writer has stopped".into())),
        }
    }
}

async fn writer(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
    let mut jobs: Vec<Job> = Vec::with_capacity(64);
    while rx.recv_many(&mut jobs, MAX_JOBS_PER_COMMIT).await > 0 {
        let mut merged = WriteBatch::default();
        for j in &jobs {
            merged.append(j.batch.clone());
        }
        match store.write_batch(&merged).await {
            Ok(()) => {
                metrics::histogram!("charter_journal_batch_jobs").record(jobs.len() as f64);
                for j in jobs.drain(..) {
                    let _ = j.done.send(Ok(()));
                }
            }
            Err(e) if jobs.len() > 1 => {
                tracing::warn!(error = %e, jobs = jobs.len(), "merged journal commit failed; retrying each write alone");
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
