//! The delivery half of a connection: queued frames are admitted against the subscription's
//! epoch and last seq (duplicates skipped, gaps filled from history or answered with `resync`),
//! written in batches and flushed with a deadline.

use super::*;

impl Connection {
    /// Writes a batch of queued frames (the first and whatever else is already waiting, up to
    /// [`BATCH`]) and flushes once: one write syscall per batch rather than per frame. The kill
    /// switch and the write deadline guard the batch as a whole, not each frame.
    pub(super) async fn write_batch(&mut self, first: Arc<Frame>) -> Result<(), Exit> {
        let kill = self.kill.clone();
        let limit = self.hub.config.ping_interval;
        let batch = async {
            let mut next = Some(first);
            let mut written = 0u64;
            while let Some(frame) = next {
                match self.admit(&frame) {
                    Admit::Send => {
                        self.sink.feed(Message::Text(frame.text.clone())).await.map_err(|_| Exit::Gone)?;
                        written += 1;
                    }
                    Admit::Skip => {}
                    Admit::Resync => self.resync(&frame.room, "epoch").await?,
                    Admit::Gap => Box::pin(self.fill_gap(&frame.room)).await?,
                }
                if written >= BATCH {
                    break;
                }
                next = self.queue_rx.as_mut().and_then(|rx| rx.try_recv().ok());
            }
            metrics::frames_out(written);
            self.sink.flush().await.map_err(|_| Exit::Gone)
        };
        // The batch is polled first: when the socket takes it at once (the usual case), the
        // kill switch is never registered with.
        tokio::select! {
            biased;
            r = tokio::time::timeout(limit, batch) => r.map_err(|_| Exit::Dead)?,
            _ = kill.notify.notified() => Err(Exit::Killed),
        }
    }

    pub(super) fn admit(&mut self, frame: &Frame) -> Admit {
        let Some(sub) = self.subscription(&frame.room) else { return Admit::Skip };
        if frame.seq == 0 {
            return Admit::Send;
        }
        if !Arc::ptr_eq(&frame.epoch, &sub.epoch) && *frame.epoch != *sub.epoch {
            sub.epoch = frame.epoch.clone();
            sub.last_seq = frame.seq;
            return Admit::Resync;
        }
        if frame.seq <= sub.last_seq {
            return Admit::Skip;
        }
        if frame.seq == sub.last_seq + 1 {
            sub.last_seq = frame.seq;
            return Admit::Send;
        }
        Admit::Gap
    }

    /// The subscription a queued frame belongs to. A connection usually follows a few topics:
    /// comparing their keys is cheaper than hashing the frame's (SipHash of the room key was
    /// a tenth of the server's time in a 1,000-subscriber fan-out profile).
    fn subscription(&mut self, room: &RoomKey) -> Option<&mut Subscription> {
        if self.subs.len() <= 4 {
            return self.subs.iter_mut().find(|(key, _)| ***key == **room).map(|(_, sub)| sub);
        }
        self.subs.get_mut(room)
    }

    /// How rooms reach this connection; creates the outgoing queue on first use.
    pub(super) fn handle(&mut self) -> ConnHandle {
        let tx = match &self.queue_tx {
            Some(tx) => tx.clone(),
            None => {
                let (tx, rx) = mpsc::channel(self.hub.config.queue_len);
                self.queue_rx = Some(rx);
                self.queue_tx = Some(tx.clone());
                tx
            }
        };
        ConnHandle { id: self.id.clone(), tx, kill: self.kill.clone() }
    }

    pub(super) async fn resync(&mut self, key: &RoomKey, reason: &'static str) -> Result<(), Exit> {
        let Some(sub) = self.subs.get(key) else { return Ok(()) };
        metrics::recovery(&sub.topic, "resync");
        let frame = ServerFrame::Resync {
            workspace: sub.workspace,
            topic: &sub.topic,
            epoch: &sub.epoch,
            seq: sub.last_seq,
            reason,
        };
        let text = frame.to_text();
        self.feed(text.into()).await
    }

    /// A queued event skipped ahead (events were lost between instances): send what history
    /// holds in between, or `resync`.
    pub(super) async fn fill_gap(&mut self, key: &RoomKey) -> Result<(), Exit> {
        let Some(sub) = self.subs.get(key) else { return Ok(()) };
        let since = Position { epoch: sub.epoch.to_string(), seq: sub.last_seq };
        let recovery = match self.hub.recover(key, Some(&since)).await {
            Ok(r) => r,
            Err(_) => return Err(Exit::Gone), // cannot prove completeness: let the client reconnect
        };
        let Some(sub) = self.subs.get_mut(key) else { return Ok(()) };
        sub.epoch = recovery.epoch.clone();
        sub.last_seq = recovery.seq;
        match recovery.outcome {
            Outcome::Missed(events) => {
                metrics::recovery(&sub.topic, "served");
                for event in events {
                    self.feed(Message::Text(event)).await?;
                }
                Ok(())
            }
            Outcome::Resync(reason) => self.resync(key, reason).await,
            Outcome::Fresh => Ok(()),
        }
    }

    pub(super) async fn error(
        &mut self,
        code: &str,
        message: &str,
        about: Option<(WorkspaceId, &str)>,
        reference: Option<&str>,
    ) -> Result<(), Exit> {
        let frame =
            ServerFrame::Error { code, message, workspace: about.map(|a| a.0), topic: about.map(|a| a.1), reference };
        self.write(frame.to_text().into()).await
    }

    pub(super) async fn write(&mut self, msg: Message) -> Result<(), Exit> {
        self.feed(msg).await?;
        self.flush().await
    }

    pub(super) async fn feed(&mut self, msg: Message) -> Result<(), Exit> {
        let kill = self.kill.clone();
        let limit = self.hub.config.ping_interval;
        tokio::select! {
            r = tokio::time::timeout(limit, self.sink.feed(msg)) => r.map_err(|_| Exit::Dead)?.map_err(|_| Exit::Gone),
            _ = kill.notify.notified() => Err(Exit::Killed),
        }
    }

    pub(super) async fn flush(&mut self) -> Result<(), Exit> {
        let kill = self.kill.clone();
        let limit = self.hub.config.ping_interval;
        tokio::select! {
            r = tokio::time::timeout(limit, self.sink.flush()) => r.map_err(|_| Exit::Dead)?.map_err(|_| Exit::Gone),
            _ = kill.notify.notified() => Err(Exit::Killed),
        }
    }
}
