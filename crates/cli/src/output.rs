//! How the operator commands print: aligned tables and `key = value` blocks, short IDs,
//! relative times, and colour only when stdout is a terminal and `NO_COLOR` is not set.
//! Everything here is a pure function of its inputs (the clock is passed in), so the
//! formats are unit-tested without an agent.

use serde_json::Value;
use std::io::IsTerminal;

/// What Nomad's CLI shows of an ID without `-verbose`.
pub const SHORT_ID_LEN: usize = 8;

/// Prints a line to stdout. When the reader has gone (`rollout … | head -1`), exits
/// quietly with the status a SIGPIPE death would give (128 + 13), instead of panicking
/// as `println!` does.
pub fn emit(text: impl std::fmt::Display) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("Error writing output: {e}");
        std::process::exit(1);
    }
}

/// ANSI colours, used for statuses only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Green,
    Yellow,
    Red,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Red => "31",
        }
    }
}

/// Whether to colour what goes to stdout.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour only on a terminal, never with `NO_COLOR` set to anything but "" (the
    /// no-color.org rule) or on a dumb terminal.
    pub fn for_stdout() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        Style {
            color: std::io::stdout().is_terminal() && !no_color && !dumb,
        }
    }

    pub fn paint(&self, text: &str, color: Option<Color>) -> String {
        match (self.color, color) {
            (true, Some(c)) => format!("\x1b[{}m{text}\x1b[0m", c.code()),
            _ => text.to_owned(),
        }
    }
}

/// The colour of a deployment status.
pub fn status_color(status: &str) -> Option<Color> {
    match status {
        "successful" | "healthy" | "running" => Some(Color::Green),
        "failed" | "cancelled" | "unhealthy" | "lost" => Some(Color::Red),
        "paused" | "pending" | "blocked" | "initializing" | "unblocking" => Some(Color::Yellow),
        _ => None,
    }
}

/// One table cell: its text and an optional colour (which does not count for width).
#[derive(Clone, Debug)]
pub struct Cell {
    text: String,
    color: Option<Color>,
}

impl Cell {
    pub fn colored(text: impl Into<String>, color: Option<Color>) -> Cell {
        Cell {
            text: text.into(),
            color,
        }
    }
}

impl<T: Into<String>> From<T> for Cell {
    fn from(text: T) -> Cell {
        Cell::colored(text, None)
    }
}

/// Columns separated by two spaces, each as wide as its widest cell; the last column is
/// not padded, so lines carry no trailing spaces.
#[derive(Clone, Debug)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    pub fn render(&self, style: &Style) -> String {
        let header: Vec<Cell> = self.header.iter().map(|h| Cell::from(h.as_str())).collect();
        let lines = std::iter::once(&header).chain(&self.rows);
        let mut widths = vec![0; self.header.len()];
        for row in lines.clone() {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.text.chars().count());
            }
        }
        let mut out = String::new();
        for row in lines {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(&style.paint(&cell.text, cell.color));
                if i + 1 < row.len() {
                    let pad = width - cell.text.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.pop();
        out
    }
}

/// Nomad's `Key = value` block, keys padded to the longest.
pub fn key_values(rows: &[(&str, Cell)], style: &Style) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$} = {}", style.paint(&v.text, v.color)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A cell as Nomad's `formatKV` and `formatList` show an empty value: `<none>`.
pub fn or_none(text: &str) -> Cell {
    if text.is_empty() {
        "<none>".into()
    } else {
        text.into()
    }
}

/// The first eight characters of an ID, or the whole ID with `verbose`.
pub fn id(id: &str, verbose: bool) -> String {
    if verbose {
        id.to_owned()
    } else {
        id.chars().take(SHORT_ID_LEN).collect()
    }
}

/// A JSON value as a cell's text: strings bare, `null` as `-`.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Now, in Unix nanoseconds.
pub fn now_ns() -> i64 {
    rollout_store::system_now_ns()
}

/// A span in the two largest units, as people read it: `45s`, `3m12s`, `2h5m`, `3d4h`.
pub fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m{s}s"),
        (0, _, _) => format!("{h}h{m}m"),
        _ => format!("{d}d{h}h"),
    }
}

/// `at` relative to `now` (both Unix ns): `12s ago`, `in 9m58s`; `-` for a zero time.
pub fn relative(at_ns: i64, now_ns: i64) -> String {
    if at_ns <= 0 {
        return "-".into();
    }
    let secs = |ns: i64| u64::try_from(ns / 1_000_000_000).unwrap_or(0);
    if at_ns <= now_ns {
        format!("{} ago", span(secs(now_ns - at_ns)))
    } else {
        // Round up, so that a deadline 0.4 s away reads "in 1s", not "in 0s".
        format!("in {}", span(secs(at_ns - now_ns + 999_999_999)))
    }
}

/// A time (Unix ns) as an RFC 3339 date to the second, in UTC; `-` for a zero time.
pub fn date(at_ns: i64) -> String {
    if at_ns <= 0 {
        return "-".into();
    }
    rollout_engine::model::time::format_rfc3339(at_ns - at_ns % 1_000_000_000)
}

/// A time (Unix ns) as Nomad's CLI writes one (`formatTime`: `01/02/06 15:04:05 UTC`,
/// in UTC); "" for a zero time.
pub fn nomad_time(at_ns: i64) -> String {
    if at_ns < 1_000_000_000 {
        return String::new();
    }
    // `2026-12-03T07:22:38Z` → `12/03/26 07:22:38 UTC`.
    let rfc = date(at_ns);
    match (
        rfc.get(2..4),
        rfc.get(5..7),
        rfc.get(8..10),
        rfc.get(11..19),
    ) {
        (Some(y), Some(m), Some(d), Some(t)) => format!("{m}/{d}/{y} {t} UTC"),
        _ => rfc,
    }
}

/// An RFC 3339 time (as the API writes them) as [`nomad_time`] writes it; "" when null.
pub fn nomad_time_rfc3339(v: &Value) -> String {
    v.as_str()
        .and_then(|s| rollout_engine::model::time::parse_rfc3339(s).ok())
        .map_or_else(String::new, nomad_time)
}

/// An RFC 3339 time (as the API writes them) relative to now; `-` when null.
pub fn relative_rfc3339(v: &Value, now_ns: i64) -> String {
    v.as_str()
        .and_then(|s| rollout_engine::model::time::parse_rfc3339(s).ok())
        .map_or_else(|| "-".into(), |at| relative(at, now_ns))
}

/// A server's error text on one line: Go's multierror (`1 error occurred:\n\t* x\n\n`)
/// becomes `x`, several errors are joined with `; `.
pub fn one_line(message: &str) -> String {
    let mut lines: Vec<&str> = message
        .lines()
        .map(|l| l.trim())
        .map(|l| l.strip_prefix("* ").unwrap_or(l))
        .filter(|l| !l.is_empty())
        .collect();
    let header = lines.first().is_some_and(|first| {
        first.ends_with("occurred:")
            && first
                .split_whitespace()
                .next()
                .is_some_and(|n| n.parse::<u32>().is_ok())
    });
    if header && lines.len() > 1 {
        lines.remove(0);
    }
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_carry_no_trailing_spaces() {
        let mut t = Table::new(&["ID", "Status", "Description"]);
        t.row(vec![
            "abc".into(),
            "running".into(),
            "Deployment is running".into(),
        ]);
        t.row(vec![
            "abcdef12".into(),
            Cell::colored("failed", Some(Color::Red)),
            "".into(),
        ]);
        assert_eq!(
            t.render(&Style::default()),
            "ID        Status   Description\nabc       running  Deployment is running\nabcdef12  failed"
        );
        // Colour codes do not count for alignment.
        let coloured = t.render(&Style { color: true });
        assert!(coloured.contains("\x1b[31mfailed\x1b[0m"), "{coloured}");
        assert_eq!(
            coloured.lines().nth(2).map(|l| l.find("\x1b")),
            Some(Some(10))
        );
    }

    #[test]
    fn key_value_blocks_pad_keys() {
        let kv = key_values(
            &[("ID", "x".into()), ("Job Version", "3".into())],
            &Style::default(),
        );
        assert_eq!(kv, "ID          = x\nJob Version = 3");
    }

    #[test]
    fn relative_times() {
        let s = 1_000_000_000;
        let now = 1_800_000_000 * s;
        assert_eq!(relative(now - 5 * s, now), "5s ago");
        assert_eq!(relative(now - 192 * s, now), "3m12s ago");
        assert_eq!(relative(now - 7_500 * s, now), "2h5m ago");
        assert_eq!(relative(now - 100_000 * s, now), "1d3h ago");
        assert_eq!(relative(now + s / 2, now), "in 1s");
        assert_eq!(relative(now + 598 * s, now), "in 9m58s");
        assert_eq!(relative(0, now), "-");
        assert_eq!(date(now + 123), "2027-01-15T08:00:00Z");
        assert_eq!(date(0), "-");
        assert_eq!(nomad_time(now + 123), "01/15/27 08:00:00 UTC");
        assert_eq!(nomad_time(0), "");
        assert_eq!(
            nomad_time_rfc3339(&Value::from("2027-01-15T08:00:10Z")),
            "01/15/27 08:00:10 UTC"
        );
        assert_eq!(nomad_time_rfc3339(&Value::Null), "");
        assert_eq!(relative_rfc3339(&Value::Null, now), "-");
        assert_eq!(
            relative_rfc3339(&Value::from("2027-01-15T08:00:10Z"), 1_800_000_000 * s),
            "in 10s"
        );
    }

    #[test]
    fn server_errors_fit_on_one_line() {
        assert_eq!(
            one_line("1 error occurred:\n\t* Healthy deadline must be less than progress deadline: 5m0s > 1m0s\n\n"),
            "Healthy deadline must be less than progress deadline: 5m0s > 1m0s"
        );
        assert_eq!(one_line("2 errors occurred:\n\t* a\n\t* b\n\n"), "a; b");
        assert_eq!(one_line("deployment not found"), "deployment not found");
    }

    #[test]
    fn short_ids() {
        assert_eq!(
            id("5c0f0a8e-1234-4abc-9def-0123456789ab", false),
            "5c0f0a8e"
        );
        assert_eq!(id("ab", false), "ab");
        assert_eq!(
            id("5c0f0a8e-1234-4abc-9def-0123456789ab", true),
            "5c0f0a8e-1234-4abc-9def-0123456789ab"
        );
    }
}
