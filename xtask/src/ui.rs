//! Talking to the person (or the CI log) running a verb: prompts only in a real terminal,
//! a rewriting progress line only on a TTY, plain lines everywhere else. No colours.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

/// A person is there to answer: stdin and stderr are terminals and `CI` is not set.
pub fn interactive() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    !ci && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks a yes/no question on stderr; anything but `y`/`yes` is no.
pub fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Asks for a line on stderr; the answer without surrounding whitespace (empty when none).
pub fn answer(question: &str) -> String {
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    answer.trim().to_string()
}

/// `[ 3/21]  12.4 s  ...` on one rewritten line on a terminal; in a log, only the lines that
/// carry news are printed.
pub struct Progress {
    started: Instant,
    tty: bool,
    drawn: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { started: Instant::now(), tty: std::io::stderr().is_terminal(), drawn: false }
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// A line that stays (an event).
    pub fn line(&mut self, text: &str) {
        self.clear();
        eprintln!("{text}");
    }

    /// The status line: redrawn in place on a terminal, skipped in logs (events say enough there).
    pub fn status(&mut self, done: usize, total: usize, what: &str) {
        if self.tty {
            eprint!("\r\x1b[2K[{done:>3}/{total}] {:>6.1} s  {what}", self.elapsed());
            let _ = std::io::stderr().flush();
            self.drawn = true;
        }
    }

    pub fn clear(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[2K");
            self.drawn = false;
        }
    }
}

/// Left-aligned columns, each as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let line: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        line.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = render(header.to_vec());
    for row in rows {
        out += &render(row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_columns_line_up() {
        let t = super::table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()], vec!["y".into(), "z".into()]]);
        assert_eq!(t, "A          LONGER\nwide cell  x\ny          z\n");
    }
}
