//! Status callbacks, written in batches. Twilio calls back two or three times per message sent;
//! at thousands of sends a second, a transaction per callback is most of the database's work.
//! Webhook handlers hand each verified callback to one [`StatusWriter`] task, which stores
//! whatever is waiting in one transaction ([`inbound::receive_statuses`]) and answers each
//! handler after the commit, so a 200 still means stored (invariant 5: Twilio retries anything
//! else, and the retry is stored once).

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};

use crate::batch::next_batch;
use crate::ids::WorkspaceId;
use crate::inbound::{self, StatusCallback};

/// Most callbacks in one transaction.
const BATCH: usize = 500;

/// The callback was not stored (the database failed); the webhook should not answer 2xx.
#[derive(Debug, thiserror::Error)]
#[error("the status callback could not be stored")]
pub struct NotStored;

type Pending = (WorkspaceId, StatusCallback, oneshot::Sender<Result<bool, NotStored>>);

#[derive(Clone)]
pub struct StatusWriter {
    tx: mpsc::Sender<Pending>,
}

impl StatusWriter {
    /// Starts the writing task on `db`; it ends when every clone is dropped, after writing what
    /// it holds.
    pub fn start(db: PgPool) -> Self {
        let (tx, rx) = mpsc::channel(BATCH * 8);
        tokio::spawn(write(db, rx));
        Self { tx }
    }

    /// Stores `callback` once; true when it was new, false for a duplicate.
    pub async fn write(&self, workspace: WorkspaceId, callback: StatusCallback) -> Result<bool, NotStored> {
        let (done, stored) = oneshot::channel();
        self.tx.send((workspace, callback, done)).await.map_err(|_| NotStored)?;
        stored.await.map_err(|_| NotStored)?
    }
}

async fn write(db: PgPool, mut rx: mpsc::Receiver<Pending>) {
    while let Some(batch) = next_batch(&mut rx, BATCH).await {
        let items: Vec<(WorkspaceId, StatusCallback)> = batch.iter().map(|(w, c, _)| (*w, c.clone())).collect();
        let written: sqlx::Result<Vec<bool>> = async {
            let mut tx = db.begin().await?;
            let fresh = inbound::receive_statuses(&mut tx, &items).await?;
            tx.commit().await?;
            Ok(fresh)
        }
        .await;
        metrics::histogram!("switchboard_status_callback_batch_rows").record(batch.len() as f64);
        match written {
            Ok(fresh) => {
                for ((_, _, done), fresh) in batch.into_iter().zip(fresh) {
                    let _ = done.send(Ok(fresh));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, callbacks = batch.len(), "storing status callbacks failed");
                for (_, _, done) in batch {
                    let _ = done.send(Err(NotStored));
                }
            }
        }
    }
}
