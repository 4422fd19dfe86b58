//! One client's outgoing frames, counted in bytes against its own cap and a shared total.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

pub(super) struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
    /// Bytes queued for every client of the server.
    total: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Inner {
    frames: VecDeque<String>,
    bytes: usize,
    closed: bool,
}

impl Outbox {
    pub(super) fn new(total: Arc<AtomicUsize>) -> Self {
        Self {
            inner: Mutex::default(),
            ready: Notify::new(),
            total,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `text`; false (and nothing queued) if that would put more than `cap` bytes here.
    pub(super) fn push(&self, text: String, cap: usize) -> bool {
        let mut inner = self.lock();
        if inner.closed || inner.bytes + text.len() > cap {
            return false;
        }
        inner.bytes += text.len();
        self.total.fetch_add(text.len(), Ordering::Relaxed);
        inner.frames.push_back(text);
        drop(inner);
        self.ready.notify_one();
        true
    }

    /// The next frame without waiting.
    pub(super) fn try_pop(&self) -> Option<String> {
        let mut inner = self.lock();
        let text = inner.frames.pop_front()?;
        inner.bytes -= text.len();
        self.total.fetch_sub(text.len(), Ordering::Relaxed);
        if inner.frames.is_empty() && inner.frames.capacity() > 64 {
            // A flood grew it; give the memory back.
            inner.frames = VecDeque::new();
        }
        Some(text)
    }

    /// The next frame; None once closed.
    pub(super) async fn pop(&self) -> Option<String> {
        loop {
            if self.lock().closed {
                return None;
            }
            if let Some(text) = self.try_pop() {
                return Some(text);
            }
            // A push between the check and here leaves a permit, so no wake-up is lost.
            self.ready.notified().await;
        }
    }

    /// Discard everything queued; later pushes fail and `pop` returns None.
    pub(super) fn close(&self) {
        let mut inner = self.lock();
        self.total.fetch_sub(inner.bytes, Ordering::Relaxed);
        *inner = Inner {
            closed: true,
            ..Inner::default()
        };
        drop(inner);
        self.ready.notify_one();
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_capped_and_counted() {
        let total = Arc::new(AtomicUsize::new(0));
        let a = Outbox::new(total.clone());
        let b = Outbox::new(total.clone());
        assert!(a.push("12345".into(), 8));
        assert!(!a.push("6789".into(), 8), "over a's own cap");
        assert!(b.push("6789".into(), 8), "b has its own cap");
        assert_eq!(total.load(Ordering::Relaxed), 9);
        assert_eq!(a.try_pop().as_deref(), Some("12345"));
        assert_eq!(total.load(Ordering::Relaxed), 4);
        drop(b);
        assert_eq!(
            total.load(Ordering::Relaxed),
            0,
            "closing releases its bytes"
        );
    }
}
