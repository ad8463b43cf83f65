//! A remote command's output shown as it arrives: complete lines go to the logger, which puts
//! them on the progress bar (a terminal) or prints them with `-v`, cleaned of control
//! sequences and inside the run's output cap. What the driver gets back is unchanged.

use crate::host::Logger;

/// Longest line kept whole; a longer one is shown in pieces.
const MAX_LINE: usize = 4096;

/// Splits one stream into lines for the logger.
pub(super) struct Echo<'a> {
    log: Option<&'a Logger>,
    origin: &'a str,
    partial: Vec<u8>,
}

impl<'a> Echo<'a> {
    pub fn new(log: Option<&'a Logger>, origin: &'a str) -> Self {
        Echo {
            log,
            origin,
            partial: Vec::new(),
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        let Some(log) = self.log else { return };
        for &b in bytes {
            if b == b'\n' || self.partial.len() >= MAX_LINE {
                log.remote_output(self.origin, &String::from_utf8_lossy(&self.partial));
                self.partial.clear();
            }
            if b != b'\n' {
                self.partial.push(b);
            }
        }
    }

    /// Shows a last line that had no newline.
    pub fn finish(&mut self) {
        if let Some(log) = self.log
            && !self.partial.is_empty()
        {
            log.remote_output(self.origin, &String::from_utf8_lossy(&self.partial));
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Verbosity;
    use crate::host::log::tests::Buffer;

    #[test]
    fn chunks_become_lines_and_a_long_line_comes_in_pieces() {
        let buf = Buffer::default();
        let log = Logger::to("k1", Verbosity::Debug, Box::new(buf.clone()));
        let mut echo = Echo::new(Some(&log), "root@h:22");
        echo.push(b"one\ntw");
        echo.push(b"o\n");
        echo.push(&vec![b'z'; MAX_LINE + 10]);
        echo.push(b"\nlast");
        echo.finish();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "debug: k1: root@h:22: one");
        assert_eq!(lines[1], "debug: k1: root@h:22: two");
        assert!(lines[2].ends_with(&"z".repeat(100)));
        assert_eq!(
            lines[3],
            format!("debug: k1: root@h:22: {}", "z".repeat(10))
        );
        assert_eq!(lines[4], "debug: k1: root@h:22: last");
        assert_eq!(lines.len(), 5);
    }
}
