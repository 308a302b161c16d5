//! Small output helpers shared by the commands, and the `--json` mode.
//!
//! With `--json`, standard output carries exactly one JSON document (see
//! docs/CLI.md). A command either prints its own document with [`json`]
//! (`paths`, `status`, `verify`, `import`), or reports what it did with
//! [`record`], one object per file or table, which `main` prints at the end
//! as `{"command": …, "ok": …, "results": […]}`. A plain [`out`] line in
//! JSON mode becomes `{"message": line}` in `results`, so nothing a command
//! prints can break the document.

use aragora_db::Error;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static JSON_MODE: AtomicBool = AtomicBool::new(false);
static EMITTED: AtomicBool = AtomicBool::new(false);
static RESULTS: Mutex<Vec<serde_json::Value>> = Mutex::new(Vec::new());

/// Turns JSON mode on (from `--json`).
pub fn set_json_mode(on: bool) {
    JSON_MODE.store(on, Ordering::Relaxed);
}

/// Whether `--json` was given.
pub fn json_mode() -> bool {
    JSON_MODE.load(Ordering::Relaxed)
}

/// True when the error is a closed stdout pipe.
pub fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

fn print(line: impl std::fmt::Display) -> aragora_db::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").map_err(|e| Error::io("write", "<stdout>", e))
}

/// Writes a line to stdout, turning a failure into an error (not a panic).
/// In JSON mode the line becomes a `{"message": …}` result.
pub fn out(line: impl std::fmt::Display) -> aragora_db::Result<()> {
    if json_mode() {
        RESULTS
            .lock()
            .push(serde_json::json!({ "message": line.to_string() }));
        return Ok(());
    }
    print(line)
}

/// Reports one thing a command did: `text` in text mode, `value` in the
/// `results` of the JSON document.
pub fn record(text: impl std::fmt::Display, value: serde_json::Value) -> aragora_db::Result<()> {
    if json_mode() {
        RESULTS.lock().push(value);
        return Ok(());
    }
    print(text)
}

/// Prints a command's own JSON document.
pub fn json(v: &serde_json::Value) -> aragora_db::Result<()> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Error::InvalidArgument(e.to_string()))?;
    EMITTED.store(true, Ordering::Relaxed);
    print(s)
}

/// In JSON mode, prints the collected results unless the command printed
/// its own document; `error` is the failure's message, if it failed.
pub fn finish(command: &str, error: Option<String>) -> aragora_db::Result<()> {
    // `dump` and `sqlite dump` stream JSON lines themselves.
    let streams = matches!(command, "dump" | "sqlite dump");
    if !json_mode() || streams || EMITTED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let results = std::mem::take(&mut *RESULTS.lock());
    let mut doc = serde_json::json!({
        "command": command,
        "ok": error.is_none(),
        "results": results,
    });
    if let Some(e) = error {
        doc["error"] = e.into();
    }
    json(&doc)
}

/// Human-readable byte size.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
