//! Whether errors capture a stack backtrace: never, whatever `RUST_BACKTRACE` says.
//!
//! `anyhow` (and so `wasmtime::Error`) captures a backtrace for every error it creates when
//! `RUST_LIB_BACKTRACE` or, failing that, `RUST_BACKTRACE` asks for one. Errors are created on
//! ordinary call paths (a stream the guest reads to its end, a refused request, a trap), and a
//! capture walks and resolves the whole stack: with `RUST_BACKTRACE=1` set for an operator's
//! panic reports, every call paid for backtraces nobody reads. [`keep_out_of_errors`] sets
//! `RUST_LIB_BACKTRACE=0` unless the operator set it, which turns error backtraces off and
//! leaves panics reporting theirs as `RUST_BACKTRACE` says.

/// The variable `std::backtrace::Backtrace::capture` reads before `RUST_BACKTRACE`.
const LIBRARY_VARIABLE: &str = "RUST_LIB_BACKTRACE";

/// Turns error backtraces off unless `RUST_LIB_BACKTRACE` is set. Call it first thing in
/// `main`, before any thread starts (the setting is read once, at the first capture).
#[allow(unsafe_code)]
pub fn keep_out_of_errors() {
    if std::env::var_os(LIBRARY_VARIABLE).is_none() {
        // SAFETY: called at the start of `main`, before any other thread exists, so nothing
        // reads the environment concurrently.
        unsafe { std::env::set_var(LIBRARY_VARIABLE, "0") };
    }
}

#[cfg(test)]
mod tests {
    use std::backtrace::{Backtrace, BacktraceStatus};
    use std::process::Command;

    /// The child half of the test below: runs only in the process it starts.
    const CHILD: &str = "CAPSTAN_BACKTRACES_CHILD";

    #[test]
    fn errors_capture_no_backtrace_even_with_rust_backtrace_set() {
        if std::env::var_os(CHILD).is_some() {
            super::keep_out_of_errors();
            let error = anyhow::anyhow!("an error on a call path");
            assert_eq!(error.backtrace().status(), BacktraceStatus::Disabled);
            assert_eq!(Backtrace::capture().status(), BacktraceStatus::Disabled);
            return;
        }
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "backtraces::tests::errors_capture_no_backtrace_even_with_rust_backtrace_set",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env("RUST_BACKTRACE", "1")
            .env_remove(super::LIBRARY_VARIABLE)
            .status()
            .unwrap();
        assert!(status.success(), "the child test failed: {status}");
    }

    #[test]
    fn an_operator_setting_is_kept() {
        if std::env::var_os(CHILD).is_some() {
            super::keep_out_of_errors();
            assert_eq!(
                std::env::var(super::LIBRARY_VARIABLE).as_deref(),
                Ok("1"),
                "keep_out_of_errors overwrote the operator's RUST_LIB_BACKTRACE"
            );
            return;
        }
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "backtraces::tests::an_operator_setting_is_kept",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .env(super::LIBRARY_VARIABLE, "1")
            .status()
            .unwrap();
        assert!(status.success(), "the child test failed: {status}");
    }
}
