// A blocked client cannot be replied to from the thread (src/blocked.rs).
fn work(blocked: rm::BlockedClient<i64>) {
    blocked.reply_integer(1);
}

fn main() {
    let _ = work;
}
