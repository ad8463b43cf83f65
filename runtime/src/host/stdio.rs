//! Guest stdout and stderr: collected into lines and handed to the [`Logger`], which strips
//! control sequences. Never a raw path from the guest to the terminal.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::Logger;

/// Longest partial line kept before it is flushed as a line of its own.
const MAX_PENDING: usize = 64 * 1024;

pub struct GuestOutput {
    log: Logger,
    stream: &'static str,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl GuestOutput {
    pub fn new(log: Logger, stream: &'static str) -> Self {
        GuestOutput {
            log,
            stream,
            pending: Arc::default(),
        }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            log: self.log.clone(),
            stream: self.stream,
            pending: self.pending.clone(),
        })
    }
}

struct LineWriter {
    log: Logger,
    stream: &'static str,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl LineWriter {
    fn flush_lines(&self, force: bool) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            self.log
                .guest_output(self.stream, String::from_utf8_lossy(&line[..end]).as_ref());
        }
        if (force || pending.len() > MAX_PENDING) && !pending.is_empty() {
            let rest = std::mem::take(&mut *pending);
            self.log
                .guest_output(self.stream, String::from_utf8_lossy(&rest).as_ref());
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        self.flush_lines(false);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flush_lines(true);
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.flush_lines(true);
    }
}
