// A blocked client is unblocked once (src/blocked.rs).
fn work(blocked: rm::BlockedClient<i64>) {
    blocked.unblock(1);
    blocked.unblock(2);
}

fn main() {
    let _ = work;
}
