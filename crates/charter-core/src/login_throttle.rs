//! How many failed logins are tolerated before more attempts are refused outright.

/// The window failed logins are counted over, in seconds.
pub const WINDOW: i64 = 15 * 60;
/// Failed logins of one account within the window before it is locked for the rest of it.
pub const MAX_PER_ACCOUNT: u64 = 5;
/// Failed logins from one client address within the window before it is refused.
pub const MAX_PER_SOURCE: u64 = 20;

/// Whether another attempt may be checked, given the failures counted in the window.
pub fn allowed(failures_for_account: u64, failures_from_source: u64) -> bool {
    failures_for_account < MAX_PER_ACCOUNT && failures_from_source < MAX_PER_SOURCE
}
