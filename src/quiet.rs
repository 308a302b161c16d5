//! Calling redb on an untrusted file without its panics reaching the
//! terminal.
//!
//! redb documents that a file damaged outside redb may make it panic. A
//! panic is caught (`catch_unwind`) and becomes an error naming the file,
//! but the default panic hook would still print `thread … panicked at …`
//! to stderr first, which reads as a crash of the tool. While [`quietly`]
//! runs, the process's panic hook is replaced by one that says nothing for
//! panics of the calling thread and hands every other thread's panic to
//! the hook that was installed before; the previous hook is put back when
//! the last concurrent `quietly` returns.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, PanicHookInfo, catch_unwind};
use std::sync::{Arc, Mutex};

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send>;

/// How many `quietly` calls are running, and the hook they replaced.
static SAVED: Mutex<(usize, Option<Hook>)> = Mutex::new((0, None));

thread_local! {
    static SILENT: Cell<bool> = const { Cell::new(false) };
}

fn enter() {
    let mut s = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    if s.0 == 0 {
        let prev: Hook = Arc::from(std::panic::take_hook());
        s.1 = Some(prev);
        std::panic::set_hook(Box::new(|info| {
            if SILENT.with(Cell::get) {
                return;
            }
            let prev = SAVED.lock().unwrap_or_else(|p| p.into_inner()).1.clone();
            if let Some(prev) = prev {
                prev(info);
            }
        }));
    }
    s.0 += 1;
}

fn leave() {
    let mut s = SAVED.lock().unwrap_or_else(|p| p.into_inner());
    s.0 -= 1;
    if s.0 == 0
        && let Some(prev) = s.1.take()
    {
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| prev(info)));
    }
}

/// Runs `f` with its panics caught and not printed; a panic becomes its
/// message.
pub fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    enter();
    let was = SILENT.with(|s| s.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    SILENT.with(|s| s.set(was));
    leave();
    r.map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        format!("redb stopped on damaged data: {msg}")
    })
}

#[cfg(test)]
mod tests {
    use super::quietly;

    #[test]
    fn a_panic_becomes_an_error_and_the_hook_is_restored() {
        let err = quietly(|| -> u8 { panic!("boom") }).unwrap_err();
        assert!(err.contains("boom"), "{err}");
        assert_eq!(quietly(|| 7).unwrap(), 7);
        // Nested calls keep the outer silence.
        let inner = quietly(|| quietly(|| -> u8 { panic!("deep") }));
        assert!(inner.unwrap().unwrap_err().contains("deep"));
        assert_eq!(super::SAVED.lock().unwrap().0, 0);
    }
}
