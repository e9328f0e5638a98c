// The twin of ../blocked_replies_from_thread.rs: the thread hands the value over, the reply
// callback answers.
fn work(blocked: rm::BlockedClient<i64>) {
    blocked.unblock(1);
}

fn main() {
    let _ = work;
}
