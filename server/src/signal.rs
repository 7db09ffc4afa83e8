//! Signals to child processes this process spawned: the one place that calls `kill(2)`.

/// Sends `sig` to `pid`, a child this process spawned and has not yet reaped.
#[allow(unsafe_code)]
pub fn send(pid: i32, sig: i32) {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the caller owns `pid`.
    unsafe {
        libc::kill(pid, sig);
    }
}
