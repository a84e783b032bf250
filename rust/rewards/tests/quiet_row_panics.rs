//! A panic inside a row is reported in that row's error only: the panic hook stays silent for it, and
//! every other panic still reaches the hook that was installed before (its own test binary, because
//! panic hooks are process-wide).

use std::panic::{catch_unwind, set_hook};
use std::sync::atomic::{AtomicUsize, Ordering};
use tulu_rewards_core::catch_row_panic;

static REPORTED: AtomicUsize = AtomicUsize::new(0);

#[test]
fn row_panics_are_quiet_and_other_panics_reach_the_previous_hook() {
    // Stands for Rust's default hook (which prints): counts what it is handed.
    set_hook(Box::new(|_| {
        REPORTED.fetch_add(1, Ordering::SeqCst);
    }));

    let caught = catch_row_panic(|| -> u8 { panic!("boom in a row") });
    assert_eq!(
        caught.unwrap_err(),
        "internal error (panic) while verifying: boom in a row"
    );
    assert_eq!(
        REPORTED.load(Ordering::SeqCst),
        0,
        "a row's panic was printed"
    );

    // On the rayon pool, as verify_batch runs rows, and nested rows restore the outer state.
    let on_pool = tulu_parallel::install(|| {
        catch_row_panic(|| {
            let inner = catch_row_panic(|| -> u8 { panic!("inner") });
            assert!(inner.is_err());
            panic!("outer after inner")
        })
    });
    assert!(on_pool.unwrap_err().contains("outer after inner"));
    assert_eq!(REPORTED.load(Ordering::SeqCst), 0);
    assert_eq!(catch_row_panic(|| 7), Ok(7));

    // Outside a row (also after rows ran on this thread): handed on to the previous hook.
    assert!(catch_unwind(|| panic!("not in a row")).is_err());
    assert_eq!(REPORTED.load(Ordering::SeqCst), 1);
    let on_pool = tulu_parallel::install(|| catch_unwind(|| panic!("pool, not in a row")));
    assert!(on_pool.is_err());
    assert_eq!(REPORTED.load(Ordering::SeqCst), 2);
}
