//! The `log` import and the sink for guest stdout/stderr. Guards the terminal: every line is
//! stripped of control sequences, long messages are cut, and a run's total output is capped so
//! a runaway driver cannot flood the user's disk or CI log.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::contract::log::{Host, Level};
use crate::sanitize;

/// Most bytes one driver run may print; the rest is dropped with one note.
pub const MAX_RUN_OUTPUT: usize = 8 * 1024 * 1024;

/// How much the user asked to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Normal,
    Debug,
    Trace,
}

impl Verbosity {
    pub fn from_count(count: u8) -> Verbosity {
        match count {
            0 => Verbosity::Normal,
            1 => Verbosity::Debug,
            _ => Verbosity::Trace,
        }
    }
}

/// Where a driver's messages go: stderr, prefixed with the driver's name.
#[derive(Clone)]
pub struct Logger(Arc<Inner>);

struct Inner {
    driver: String,
    verbosity: Verbosity,
    state: Mutex<State>,
}

/// How long one phase took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseTiming {
    pub title: String,
    pub seconds: f64,
    pub ok: bool,
}

struct State {
    /// The open phase's title and start, and every finished phase.
    started: Option<(String, std::time::Instant)>,
    timings: Vec<PhaseTiming>,
    written: usize,
    cut: bool,
    phase_open: bool,
    out: Box<dyn Write + Send>,
    /// On an interactive terminal: the open phase's progress bar and title.
    bar: Option<(indicatif::ProgressBar, String)>,
    interactive: bool,
}

impl Logger {
    /// Progress bars when stderr is a terminal and `plain` is not asked for (`LO_PLAIN`,
    /// `CI`); plain lines otherwise.
    pub fn stderr(driver: &str, verbosity: Verbosity, plain: bool) -> Logger {
        use std::io::IsTerminal;
        let interactive = std::io::stderr().is_terminal() && !plain;
        let logger = Logger::to(driver, verbosity, Box::new(std::io::stderr()));
        logger.lock().interactive = interactive;
        logger
    }

    pub fn to(driver: &str, verbosity: Verbosity, out: Box<dyn Write + Send>) -> Logger {
        let state = State {
            started: None,
            timings: Vec::new(),
            written: 0,
            cut: false,
            phase_open: false,
            out,
            bar: None,
            interactive: false,
        };
        Logger(Arc::new(Inner {
            driver: driver.to_string(),
            verbosity,
            state: Mutex::new(state),
        }))
    }

    pub fn enabled(&self, level: Level) -> bool {
        match level {
            Level::Trace => self.0.verbosity >= Verbosity::Trace,
            Level::Debug => self.0.verbosity >= Verbosity::Debug,
            Level::Info | Level::Warn | Level::Error => true,
        }
    }

    pub fn write(&self, level: Level, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let prefix = match level {
            Level::Trace => "trace: ",
            Level::Debug => "debug: ",
            Level::Info => "",
            Level::Warn => "warning: ",
            Level::Error => "error: ",
        };
        self.emit(&format!("{prefix}{}: ", self.0.driver), message);
    }

    /// A note from lo itself (not the driver), such as how to trust a CA it created.
    pub fn host_note(&self, message: &str) {
        self.emit("note: lo: ", message);
    }

    /// One line of the guest's own stdout or stderr.
    pub fn guest_output(&self, stream: &str, line: &str) {
        self.emit(&format!("{} ({stream}): ", self.0.driver), line);
    }

    /// One line a remote command printed (`origin`: where it ran), as it arrives: the open
    /// progress bar's message on a terminal, and a debug line with `-v`; a plain run without
    /// `-v` stays quiet.
    pub fn remote_output(&self, origin: &str, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        // The login in `origin` is the driver's text too.
        let origin = sanitize::clean(origin).replace('\n', " ");
        if let Some((bar, _)) = &self.lock().bar {
            let shown: String = sanitize::clean(line)
                .replace('\n', " ")
                .chars()
                .take(100)
                .collect();
            bar.set_message(format!("{origin}: {shown}"));
        }
        if self.enabled(Level::Debug) {
            self.emit(&format!("debug: {}: {origin}: ", self.0.driver), line);
        }
    }

    pub fn phase_begin(&self, title: &str, steps: Option<u32>) {
        self.end_open_phase();
        let title = sanitize::clean(title).replace('\n', " ");
        self.lock().started = Some((title.clone(), std::time::Instant::now()));
        if self.lock().interactive {
            let bar = match steps {
                Some(n) => indicatif::ProgressBar::new(n.into()).with_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {prefix} [{bar:20}] {pos}/{len} {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                ),
                None => indicatif::ProgressBar::new_spinner().with_style(
                    indicatif::ProgressStyle::with_template("{spinner} {prefix} {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                ),
            };
            bar.set_prefix(title.clone());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let mut state = self.lock();
            state.bar = Some((bar, title));
            state.phase_open = true;
            return;
        }
        let steps = steps.map(|n| format!(" ({n} steps)")).unwrap_or_default();
        self.emit("==> ", &format!("{title}{steps}"));
        self.lock().phase_open = true;
    }

    pub fn phase_step(&self, message: &str) {
        if let Some((bar, _)) = &self.lock().bar {
            bar.set_message(sanitize::clean(message).replace('\n', " "));
            bar.inc(1);
            return;
        }
        self.emit("    ", message);
    }

    pub fn phase_end(&self, ok: bool, message: &str) {
        let (bar, took) = {
            let mut state = self.lock();
            state.phase_open = false;
            let took = state.started.take().map(|(title, start)| {
                let seconds = start.elapsed().as_secs_f64();
                state.timings.push(PhaseTiming { title, seconds, ok });
                seconds
            });
            (state.bar.take(), took)
        };
        let word = match (ok, took) {
            (true, Some(s)) => format!("done in {s:.1}s"),
            (true, None) => "done".to_string(),
            (false, _) => "failed".to_string(),
        };
        let message = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        match bar {
            Some((bar, title)) => {
                bar.finish_and_clear();
                let mark = if ok { "✓" } else { "✗" };
                self.emit(&format!("{mark} {title}: "), &format!("{word}{message}"));
            }
            None => self.emit("    ", &format!("{word}{message}")),
        }
    }

    /// The phases finished so far, in order.
    pub fn timings(&self) -> Vec<PhaseTiming> {
        self.lock().timings.clone()
    }

    /// A phase the driver left open when its call ended (it trapped or returned early).
    pub fn end_open_phase(&self) {
        if self.lock().phase_open {
            self.phase_end(false, "ended without finishing");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn emit(&self, prefix: &str, message: &str) {
        if self.lock().cut {
            return;
        }
        // Bound the work on a huge message before cleaning it; clean() cuts it further.
        let mut end = message.len().min(2 * sanitize::MAX_MESSAGE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let clean = sanitize::clean(&message[..end]);
        let mut state = self.lock();
        if state.cut {
            return;
        }
        let mut text = String::new();
        for line in clean.lines() {
            text.push_str(prefix);
            text.push_str(line);
            text.push('\n');
        }
        if state.written + text.len() > MAX_RUN_OUTPUT {
            state.cut = true;
            text = format!(
                "{prefix}output cut: the driver printed more than {} MiB\n",
                MAX_RUN_OUTPUT >> 20
            );
        }
        state.written += text.len();
        let State { out, bar, .. } = &mut *state;
        match bar {
            // Printing above the bar keeps both readable.
            Some((bar, _)) => bar.suspend(|| {
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }),
            None => {
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        }
    }
}

impl Host for super::HostState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log.write(level, &message);
        Ok(())
    }

    async fn enabled(&mut self, level: Level) -> wasmtime::Result<bool> {
        Ok(self.log.enabled(level))
    }

    async fn phase_begin(&mut self, title: String, steps: Option<u32>) -> wasmtime::Result<()> {
        self.log.phase_begin(&title, steps);
        Ok(())
    }

    async fn phase_step(&mut self, message: String) -> wasmtime::Result<()> {
        self.log.phase_step(&message);
        Ok(())
    }

    async fn phase_end(&mut self, ok: bool, message: String) -> wasmtime::Result<()> {
        self.log.phase_end(ok, &message);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A writer the tests read back.
    #[derive(Clone, Default)]
    pub(crate) struct Buffer(pub Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn levels_prefixes_and_sanitising() {
        let buf = Buffer::default();
        let log = Logger::to("k3s", Verbosity::Normal, Box::new(buf.clone()));
        log.write(Level::Debug, "hidden");
        log.write(Level::Warn, "two\nlines\x1b[31m");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "warning: k3s: two\nwarning: k3s: lines\n");
    }

    #[test]
    fn remote_output_shows_with_v_only_and_cleaned() {
        let buf = Buffer::default();
        Logger::to("k1", Verbosity::Normal, Box::new(buf.clone())).remote_output("r@h:22", "quiet");
        assert!(buf.0.lock().unwrap().is_empty());
        let log = Logger::to("k1", Verbosity::Debug, Box::new(buf.clone()));
        log.remote_output("r\x1b]0;x\x07@h:22", "  \x1b[2Jcleared  ");
        log.remote_output("r@h:22", "   ");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "debug: k1: r@h:22: cleared\n");
    }

    #[test]
    fn total_output_is_capped() {
        let buf = Buffer::default();
        let log = Logger::to("x", Verbosity::Normal, Box::new(buf.clone()));
        let chunk = "y".repeat(sanitize::MAX_MESSAGE_BYTES - 100);
        for _ in 0..(MAX_RUN_OUTPUT / chunk.len() + 10) {
            log.write(Level::Info, &chunk);
        }
        let len = buf.0.lock().unwrap().len();
        assert!(len <= MAX_RUN_OUTPUT, "{len}");
        assert!(String::from_utf8_lossy(&buf.0.lock().unwrap()).ends_with("more than 8 MiB\n"));
    }
}
