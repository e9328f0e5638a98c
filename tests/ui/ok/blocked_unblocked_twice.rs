// The twin of ../blocked_unblocked_twice.rs: one unblock.
fn work(blocked: rm::BlockedClient<i64>) {
    blocked.unblock(1);
}

fn main() {
    let _ = work;
}
