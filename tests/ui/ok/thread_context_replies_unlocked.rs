// The twin of ../thread_context_replies_unlocked.rs: the context is locked first.
fn work(tsc: rm::ThreadSafeContext) {
    tsc.lock().reply_ok();
}

fn main() {
    let _ = work;
}
