//! Time as a value. Nothing in the engine reads the clock: callers pass `now`.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    pub const EPOCH: UnixTime = UnixTime(0);

    pub fn seconds(self) -> i64 {
        self.0
    }

    pub fn plus(self, seconds: i64) -> UnixTime {
        UnixTime(self.0.saturating_add(seconds))
    }

    pub fn minus(self, seconds: i64) -> UnixTime {
        UnixTime(self.0.saturating_sub(seconds))
    }

    /// Seconds from `self` until `later` (negative when `later` is in the past).
    pub fn until(self, later: UnixTime) -> i64 {
        later.0.saturating_sub(self.0)
    }
}

impl std::fmt::Display for UnixTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
