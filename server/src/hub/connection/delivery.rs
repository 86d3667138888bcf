//! The delivery half of a connection: frames read from the followed rooms' rings are admitted
//! against the subscription's epoch and last seq (duplicates skipped, gaps filled from history
//! or answered with `resync`), written in batches and flushed with a deadline.

use super::*;

impl Connection {
    /// Writes a batch of frames from the followed rooms' rings (up to [`BATCH`]) and flushes
    /// once: one write syscall per batch rather than per frame. The kill switch and the write
    /// deadline guard the batch as a whole, not each frame, and only when the socket does not
    /// take it at once.
    pub(super) async fn write_batch(&mut self) -> Result<(), Exit> {
        let kill = self.kill.clone();
        let limit = self.hub.config.ping_interval;
        let batch = async {
            let (mut written, mut i) = (0usize, 0usize);
            let mut texts = Vec::new();
            while i < self.subs.len() && written < BATCH {
                let room = self.subs[i].room.clone();
                let sub = &mut self.subs[i];
                // Frames are admitted under the ring's read lock; only the text of those to
                // send is taken out. A resync or a gap stops the read at that frame.
                let mut action = Admit::Skip;
                let read = room.ring.read(sub.pos, BATCH - written, |frame| match sub.admit(frame) {
                    Admit::Send => {
                        texts.push(frame.text.clone());
                        true
                    }
                    Admit::Skip => true,
                    other => {
                        action = other;
                        false
                    }
                });
                sub.pos = match read {
                    Ok(pos) => pos,
                    Err(_lagged) => {
                        // Overwritten before this connection took them: as good as a full queue
                        // (counted once, whether the publisher or this reader found it first).
                        if self.kill.reason() == KillReason::None {
                            metrics::overflow(&sub.key);
                        }
                        self.kill.fire(KillReason::SlowConsumer);
                        return Err(Exit::Killed);
                    }
                };
                sub.cursor.advance(sub.pos);
                for text in texts.drain(..) {
                    self.sink.feed(Message::Text(text)).await.map_err(|_| Exit::Gone)?;
                    written += 1;
                }
                match action {
                    Admit::Resync => self.resync(i, "epoch").await?,
                    Admit::Gap => Box::pin(self.fill_gap(i)).await?,
                    Admit::Send | Admit::Skip => i += 1,
                }
            }
            metrics::frames_out(written as u64);
            self.sink.flush().await.map_err(|_| Exit::Gone)
        };
        // Most batches go straight into the socket's buffer: polled once, they finish without
        // arming the write deadline's timer or registering with the kill switch.
        let mut batch = std::pin::pin!(batch);
        if let Some(done) = futures_util::FutureExt::now_or_never(batch.as_mut()) {
            return done;
        }
        tokio::select! {
            biased;
            r = tokio::time::timeout(limit, batch) => r.map_err(|_| Exit::Dead)?,
            _ = kill.notify.notified() => Err(Exit::Killed),
        }
    }

    /// Tells the client that subscription `i` must start over from the current state.
    pub(super) async fn resync(&mut self, i: usize, reason: &'static str) -> Result<(), Exit> {
        let sub = &self.subs[i];
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
    pub(super) async fn fill_gap(&mut self, i: usize) -> Result<(), Exit> {
        let sub = &self.subs[i];
        let since = Position { epoch: sub.epoch.to_string(), seq: sub.last_seq };
        let recovery = match self.hub.recover(&sub.key.clone(), Some(&since)).await {
            Ok(r) => r,
            Err(_) => return Err(Exit::Gone), // cannot prove completeness: let the client reconnect
        };
        let sub = &mut self.subs[i];
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
            Outcome::Resync(reason) => self.resync(i, reason).await,
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

impl Subscription {
    /// What to do with a frame read from this subscription's room.
    fn admit(&mut self, frame: &Frame) -> Admit {
        if !Room::wants(frame, self.presence) {
            return Admit::Skip;
        }
        if frame.seq == 0 {
            return Admit::Send;
        }
        if !Arc::ptr_eq(&frame.epoch, &self.epoch) && *frame.epoch != *self.epoch {
            self.epoch = frame.epoch.clone();
            self.last_seq = frame.seq;
            return Admit::Resync;
        }
        if frame.seq <= self.last_seq {
            return Admit::Skip;
        }
        if frame.seq == self.last_seq + 1 {
            self.last_seq = frame.seq;
            return Admit::Send;
        }
        Admit::Gap
    }
}
