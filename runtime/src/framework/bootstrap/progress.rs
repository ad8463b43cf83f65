//! Bootstrap output: one spinner per running entry on a terminal, prefixed lines otherwise,
//! nothing with `-o json` (the report says it all). Text from the cluster or a renderer is
//! cleaned of control sequences before it reaches the terminal.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::sanitize;

enum Mode {
    Lines,
    Bars(MultiProgress),
    Quiet,
}

pub struct Progress {
    mode: Mode,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

fn clean(text: &str) -> String {
    sanitize::clean(text).replace('\n', " ")
}

impl Progress {
    /// Spinners when stderr is a terminal and `plain` is not asked for.
    pub fn stderr(plain: bool) -> Progress {
        use std::io::IsTerminal;
        let mode = if std::io::stderr().is_terminal() && !plain {
            Mode::Bars(MultiProgress::new())
        } else {
            Mode::Lines
        };
        Progress {
            mode,
            bars: Mutex::new(HashMap::new()),
        }
    }

    pub fn quiet() -> Progress {
        Progress {
            mode: Mode::Quiet,
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        match &self.mode {
            Mode::Lines => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
            Mode::Bars(multi) => {
                let _ = multi.println(text);
            }
            Mode::Quiet => {}
        }
    }

    pub fn note(&self, text: &str) {
        self.line(&format!("bootstrap: {}", clean(text)));
    }

    pub fn start(&self, entry: &str) {
        match &self.mode {
            Mode::Bars(multi) => {
                let bar = multi.add(
                    ProgressBar::new_spinner().with_style(
                        ProgressStyle::with_template("{spinner} {prefix} {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
                );
                bar.set_prefix(clean(entry));
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bars
                    .lock()
                    .expect("bars")
                    .insert(entry.to_string(), bar);
            }
            _ => self.line(&format!("bootstrap: [{}] started", clean(entry))),
        }
    }

    pub fn step(&self, entry: &str, message: &str) {
        if let Some(bar) = self.bars.lock().expect("bars").get(entry) {
            bar.set_message(clean(message));
            return;
        }
        self.line(&format!("bootstrap: [{}] {}", clean(entry), clean(message)));
    }

    /// An entry's end: `✓ name: applied 12 objects` or `✗ name: why`.
    pub fn finish(&self, entry: &str, ok: bool, message: &str) {
        let mark = if ok { "✓" } else { "✗" };
        let text = format!("{mark} {}: {}", clean(entry), clean(message));
        if let Some(bar) = self.bars.lock().expect("bars").remove(entry) {
            bar.finish_and_clear();
        }
        match &self.mode {
            Mode::Lines => self.line(&format!("bootstrap: {text}")),
            _ => self.line(&text),
        }
    }
}
